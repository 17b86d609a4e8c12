"""Start-up and idle memory of the one-file binary next to the venv install.

    .venv/bin/python scripts/bench_binary.py [--binary dist/trioserver ...] [--runs 7] [--cold]

Each serves the bundled examples (`trioserver serve` with no --config) from a fresh empty
working directory and data directory, with the environment cut down to PATH and HOME (as
a user's shell would start them). Start-up is launch to the first 200 on `/ok`, with the
CPU seconds the process tree used until then (steadier than wall time on a busy machine);
idle RSS is summed over the process tree (PyInstaller's one-file mode runs a bootloader
process above the server) 3 s after that. Warm starts go round-robin over the servers.
`--cold` drops the page cache before the first runs (root only; it slows every process on
the machine for a moment). For a binary, "first" also means an empty unpack cache, so the
one-time unpacking shows. stdlib only: scripts/bench.py imports `measure_all` and `table`
for its `binary` scenario.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from proctree import cpu_seconds, rss_kb

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ok_status(port: int) -> int | None:
    """The status of GET /ok, or None while nothing answers."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = sock.recv(64)
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=False)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_once(cmd: list[str], env: dict[str, str], rss_after: float | None) -> dict[str, Any]:
    """Launch `cmd serve ...` in a fresh directory; time the first 200 on /ok; stop it."""
    work = Path(tempfile.mkdtemp(prefix="trioserver-bench-"))
    port = free_port()
    argv = [*cmd, "serve", "--port", str(port), "--data-dir", str(work / "data"), "--log-level", "warning"]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(work / "server.log", "wb"), start_new_session=True)
    out: dict[str, Any] = {}
    try:
        while time.monotonic() - t0 < 60:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {(work / 'server.log').read_text()[-2000:]}")
            if ok_status(port) == 200:
                out["startup_s"] = time.monotonic() - t0
                out["cpu_s"] = cpu_seconds(proc.pid)
                break
            time.sleep(0.005)
        else:
            raise RuntimeError(f"{argv[0]} did not answer /ok within 60 s")
        if rss_after is not None:
            time.sleep(rss_after)
            out["rss"] = rss_kb(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return out


def bare_env(cache_dir: Path | None) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    if cache_dir is not None:
        env["XDG_CACHE_HOME"] = str(cache_dir)
    return env


def measure_all(cmds: dict[str, list[str]], runs: int = 7, cold: bool = False,
                cache_root: Path | None = None) -> dict[str, dict[str, Any]]:
    """First/cold and warm start-up plus idle RSS of each way of running the server.

    Warm runs go round-robin over the servers, so a change in the machine's load affects
    them alike. For binaries (cache_root given), the unpack cache starts empty: the first
    start includes unpacking."""
    envs, res = {}, {}
    for i, (name, cmd) in enumerate(cmds.items()):
        cache = None
        if cache_root is not None and name != "venv":
            cache = cache_root / str(i)
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir(parents=True)
        envs[name] = bare_env(cache)
        res[name] = {"cmd": cmd, "warm_all_s": [], "warm_cpu_all_s": []}
    for name, cmd in cmds.items():
        if cold:
            res[name]["dropped_page_cache"] = drop_page_cache()
        res[name]["first_s"] = start_once(cmd, envs[name], None)["startup_s"]
        if cold and res[name]["dropped_page_cache"]:
            drop_page_cache()
            res[name]["cold_s"] = start_once(cmd, envs[name], None)["startup_s"]
    for _ in range(runs):
        for name, cmd in cmds.items():
            one = start_once(cmd, envs[name], None)
            res[name]["warm_all_s"].append(one["startup_s"])
            res[name]["warm_cpu_all_s"].append(one["cpu_s"])
    for name, cmd in cmds.items():
        res[name]["warm_s"] = statistics.median(res[name]["warm_all_s"])
        res[name]["warm_cpu_s"] = statistics.median(res[name]["warm_cpu_all_s"])
        res[name]["idle_rss"] = start_once(cmd, envs[name], 3.0)["rss"]
    return res


def table(results: dict[str, dict[str, Any]]) -> str:
    def s(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    lines = ["| | first start (s) | cold start (s) | warm start, median (s) | CPU to /ok (s) | idle RSS (MB, processes) |",
             "|---|---|---|---|---|---|"]
    for name, r in results.items():
        rss = r.get("idle_rss") or {}
        lines.append(f"| {name} | {s(r.get('first_s'))} | {s(r.get('cold_s'))} | {s(r.get('warm_s'))} | "
                     f"{s(r.get('warm_cpu_s'))} | {rss.get('VmRSS', 0) / 1024:.1f} ({rss.get('procs', 0)}) |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", action="append", default=None, help="a binary to measure (repeatable; default dist/trioserver)")
    parser.add_argument("--venv", default=str(ROOT / ".venv" / "bin" / "trioserver"), help="the venv's trioserver script ('' to skip)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before the first runs (root)")
    parser.add_argument("--json", default=None, help="also write the raw figures here")
    args = parser.parse_args()
    binaries = args.binary or [str(ROOT / "dist" / "trioserver")]
    cmds: dict[str, list[str]] = {}
    if args.venv:
        cmds["venv"] = [str(Path(args.venv).absolute())]
    for binary in binaries:
        cmds[f"binary {Path(binary).name} ({os.path.getsize(binary) / 1e6:.1f} MB)"] = [str(Path(binary).resolve())]
    cache_root = Path(tempfile.mkdtemp(prefix="trioserver-bench-cache-"))
    try:
        results = measure_all(cmds, args.runs, args.cold, cache_root)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
