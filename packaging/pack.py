"""Glue the launcher and a one-folder build into the one-file binary.

    python packaging/pack.py LAUNCHER ONEDIR OUTPUT --version 0.1.0 [--level 19]

OUTPUT = LAUNCHER, then the ONEDIR tree as one zstd frame of records, then a trailer:

    record:  kind (1 byte: d=directory, f=file, l=symlink, e=end), mode (u32),
             name length (u32), data length (u64), name (UTF-8, relative), data
    trailer: payload offset (u64), payload length (u64), key (48 bytes, NUL-padded),
             b"TRIOPAY1"                       all integers little-endian

The key names the directory the launcher unpacks into (launcher.c): the version and a hash
of the payload, so a rebuilt binary never reuses another build's tree. Entries are written
in sorted order with no timestamps: the same tree gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import stat
import struct
import sys
from pathlib import Path

import zstandard

MAGIC = b"TRIOPAY1"
KEY_LEN = 48


def records(root: Path):
    """(kind, mode, name, data-or-path) for every entry under root, parents first."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)
                if os.path.isabs(target):
                    raise SystemExit(f"absolute symlink in the tree: {rel} -> {target}")
                yield b"l", 0o777, rel, target.encode()
            elif stat.S_ISDIR(st.st_mode):
                yield b"d", 0o755, rel, b""
            elif stat.S_ISREG(st.st_mode):
                yield b"f", 0o755 if st.st_mode & 0o111 else 0o644, rel, path
            else:
                raise SystemExit(f"not a file, directory or symlink: {rel}")


def head(kind: bytes, mode: int, name: bytes, size: int) -> bytes:
    return kind + struct.pack("<IIQ", mode, len(name), size) + name


def write_payload(root: Path, out, level: int) -> None:
    cctx = zstandard.ZstdCompressor(level=level, threads=-1)
    with cctx.stream_writer(out, closefd=False) as z:
        for kind, mode, rel, data in records(root):
            name = rel.encode()
            if kind == b"f":
                size = data.stat().st_size
                z.write(head(kind, mode, name, size))
                with open(data, "rb") as f:
                    while chunk := f.read(1 << 20):
                        z.write(chunk)
            else:
                z.write(head(kind, mode, name, len(data)))
                z.write(data)
        z.write(head(b"e", 0, b"", 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("launcher", type=Path)
    parser.add_argument("onedir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--version", required=True)
    parser.add_argument("--level", type=int, default=19, help="zstd level (19: small; 3: fast, for trying things)")
    args = parser.parse_args()
    if not (args.onedir / "trioserver").is_file():
        raise SystemExit(f"{args.onedir} has no trioserver executable")
    tmp = args.output.with_name(args.output.name + ".part")
    launcher = args.launcher.read_bytes()
    with open(tmp, "wb") as out:
        out.write(launcher)
        write_payload(args.onedir, out, args.level)
        size = out.tell() - len(launcher)
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
        f.seek(len(launcher))
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    key = f"trioserver-{args.version}-{digest.hexdigest()[:20]}".encode()
    if len(key) >= KEY_LEN:
        raise SystemExit(f"version too long for the key: {args.version}")
    with open(tmp, "ab") as out:
        out.write(struct.pack("<QQ", len(launcher), size) + key.ljust(KEY_LEN, b"\0") + MAGIC)
    tmp.chmod(0o755)
    tmp.replace(args.output)
    print(f"{args.output}: {args.output.stat().st_size / 1e6:.1f} MB (launcher {len(launcher) / 1e6:.1f} MB, "
          f"payload {size / 1e6:.1f} MB), unpacks as {key.decode()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
