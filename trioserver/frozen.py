"""What the `trioserver` binary needs that a virtualenv gives for free.

A frozen interpreter (see packaging/ and docs/single-executable.md) has no site-packages to
install into, ignores PYTHONPATH, and can only load wheels built for its own Python and
platform. So the command line gains:

- `trioserver --version`: versions of the bundled packages and the wheel tags this
  interpreter loads, which is what a dependencies directory must match;
- `trioserver pip ...`: the bundled pip, made safe for a frozen interpreter (wheels only,
  `--target` required) and checked afterwards, so a wheel that cannot load here fails
  the install, not a graph import later;
- `trioserver serve --python-path DIR`: DIR on the import path like PYTHONPATH, with its
  .pth files processed (site.addsitedir), so editable installs and namespace hooks work.

Everything here also works unfrozen (in a venv), checking against that interpreter.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import site
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# Bundled distributions whose versions --version reports (missing ones are skipped).
REPORTED = ("langgraph", "langgraph-checkpoint", "langgraph-prebuilt", "langgraph-sdk", "langchain-core",
            "langchain", "langchain-openai", "openai", "langsmith", "pydantic", "pip")


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


# -- --version ---------------------------------------------------------------------------

def version_text() -> str:
    """What `trioserver --version` prints: enough to match a dependencies directory to it."""
    from importlib import metadata

    from . import __version__

    versions = []
    for dist in REPORTED:
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    libc, libc_version = platform.libc_ver()
    lines = [
        f"trioserver {__version__}",
        f"python {platform.python_version()} ({platform.python_implementation()}, {platform.system().lower()} "
        f"{platform.machine()}, {libc or 'libc'} {libc_version or '?'})",
        f"loads wheels tagged {', '.join(example_tags())}, ...",
        "bundled: " + ", ".join(versions),
    ]
    if os.environ.get("TRIOSERVER_BINARY"):
        lines.append(f"binary: {os.environ['TRIOSERVER_BINARY']} (unpacked in {os.environ.get('TRIOSERVER_UNPACKED', '?')})")
    elif is_frozen():
        lines.append(f"binary: {sys.executable}")
    return "\n".join(lines)


# -- wheel tags ---------------------------------------------------------------------------

def supported_tags() -> set[str]:
    from packaging.tags import sys_tags

    return {str(tag) for tag in sys_tags()}


def example_tags() -> list[str]:
    """The most specific tags this interpreter loads: one C-extension tag, the abi3 and
    pure-Python ones."""
    from packaging.tags import sys_tags

    tags = [str(t) for t in sys_tags()]
    picks = [next((t for t in tags if "manylinux" in t), tags[0])]
    picks += [t for t in tags if "-abi3-manylinux" in t][:1] + [t for t in tags if t.endswith("-none-any")][:1]
    return picks


def wheel_tags(dist_info: Path) -> list[str]:
    """The `Tag:` lines of an installed distribution's WHEEL file (empty if it has none)."""
    try:
        text = (dist_info / "WHEEL").read_text(errors="replace")
    except OSError:
        return []
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.lower().startswith("tag:")]


def unloadable(dirs: Iterable[str | os.PathLike[str]]) -> list[tuple[str, list[str]]]:
    """(distribution dir, its tags) for every wheel installed in `dirs` that was built for
    another Python or platform than this one."""
    ok = supported_tags()
    bad = []
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            continue
        for dist_info in sorted(root.glob("*.dist-info")):
            tags = wheel_tags(dist_info)
            if tags and not ok.intersection(tags):
                bad.append((str(dist_info), tags))
    return bad


def mismatch_help() -> str:
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    machine = platform.machine()
    return (
        f"This trioserver runs CPython {py} on {platform.system().lower()} {machine} and loads wheels tagged "
        f"{', '.join(example_tags())} (and older manylinux). Install with the same interpreter "
        f"(`trioserver pip install --target DIR ...` on the machine that serves), or from another pip: "
        f"`pip install --target DIR --only-binary=:all: --implementation cp --python-version {py} "
        f"--platform manylinux2014_{machine} PACKAGE`."
    )


def describe(bad: list[tuple[str, list[str]]]) -> str:
    return "\n".join(f"  {Path(path).name}: built for {', '.join(tags[:3])}{' ...' if len(tags) > 3 else ''}"
                     for path, tags in bad)


# -- --python-path and the dependencies dirs --------------------------------------------

def add_python_path(dirs: Sequence[str]) -> list[str]:
    """Put `dirs` first on sys.path, like PYTHONPATH, processing their .pth files."""
    added: list[str] = []
    for d in dirs:
        path = os.path.abspath(d)
        if not os.path.isdir(path):
            raise SystemExit(f"trioserver: --python-path {d}: not a directory")
        before = list(sys.path)
        site.addsitedir(path)  # appends `path` and whatever its .pth files name
        added += [p for p in sys.path if p not in before and p not in added]
    sys.path[:] = added + [p for p in sys.path if p not in added]
    return added


def config_dependency_dirs(config_path: str | os.PathLike[str] | None) -> list[str]:
    """The directories a langgraph.json's `dependencies` names (for the wheel check only:
    loading them is runtime/graphs.py's job)."""
    if config_path is None:
        return []
    path = Path(config_path).resolve()
    try:
        deps = json.loads(path.read_text()).get("dependencies", ["."])
    except (OSError, ValueError, AttributeError):
        return []
    return [str((path.parent / d).resolve()) for d in deps if isinstance(d, str)]


def prepare_import_path(python_path: Sequence[str], config_path: str | os.PathLike[str] | None) -> None:
    """Add --python-path dirs; warn about wheels in them or in the config's dependencies
    that cannot load here (a graph importing one would fail with a less helpful error)."""
    add_python_path(python_path)
    bad = unloadable([*python_path, *config_dependency_dirs(config_path)])
    if bad:
        log.warning("these packages were built for another Python or platform and will fail to import:\n%s\n%s",
                    describe(bad), mismatch_help())


# -- trioserver pip ----------------------------------------------------------------------

def _command(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def _target(args: Sequence[str]) -> str | None:
    for i, a in enumerate(args):
        if a in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--target="):
            return a.split("=", 1)[1]
        if a.startswith("-t") and len(a) > 2:
            return a[2:]
    return None


def _foreign_wheel_files(args: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Wheel files named on the command line that this interpreter cannot load."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    ok = supported_tags()
    bad = []
    for a in args:
        if a.endswith(".whl") and not a.startswith("-"):
            try:
                tags = [str(t) for t in parse_wheel_filename(Path(a).name)[3]]
            except InvalidWheelFilename:
                continue
            if not ok.intersection(tags):
                bad.append((a, tags))
    return bad


def _bundle_constraints() -> str:
    """A constraints file pinning every bundled distribution to its bundled version.

    A module the server has imported always comes from the bundle, whatever a
    dependencies dir holds; so a package needing, say, a newer langchain-core than the
    bundled one would fail at import. Pinned, pip picks versions that work with the bundle
    or fails the install, saying which requirement conflicts."""
    import tempfile

    pins = sorted(f"{name}=={version}" for name, version in _bundled_versions().items() if name not in ("trioserver", "pip"))
    fd, path = tempfile.mkstemp(prefix="trioserver-bundle-", suffix=".txt")
    with os.fdopen(fd, "w") as f:
        f.write("# what the trioserver binary bundles\n" + "\n".join(pins) + "\n")
    return path


def _bundled_versions() -> dict[str, str]:
    from importlib import metadata

    from packaging.utils import canonicalize_name

    return {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def _prune_bundled(target: str, before: set[str]) -> list[str]:
    """Delete from `target` the distributions this pip run added that the binary bundles at
    the very same version (the constraints make them that version): they could only
    shadow the bundle's copy, and take space (langchain-anthropic brings ~100 MB)."""
    import shutil

    from packaging.utils import canonicalize_name

    bundled = _bundled_versions()
    root = Path(target).resolve()
    pruned = []
    for dist_info in sorted(root.glob("*.dist-info")):
        if dist_info.name in before or dist_info.name.startswith("trioserver-"):
            continue
        name, _, version = dist_info.name[: -len(".dist-info")].rpartition("-")
        if bundled.get(canonicalize_name(name)) != version:
            continue
        try:
            record = (dist_info / "RECORD").read_text().splitlines()
        except OSError:
            continue
        dirs: set[Path] = set()
        for line in record:
            rel = line.split(",", 1)[0]
            path = (root / rel).resolve()
            if rel and root in path.parents and path.is_file() and dist_info not in path.parents:
                path.unlink()
                dirs.update(p for p in path.parents if root in p.parents)
        shutil.rmtree(dist_info, ignore_errors=True)
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):  # deepest first
            try:
                d.rmdir()  # only if empty: namespace packages may hold other distributions
            except OSError:
                pass
        pruned.append(f"{name} {version}")
    return pruned


def pip_main(args: list[str]) -> int:
    """`trioserver pip ARGS`: pip, in this process, for this interpreter.

    Frozen, `install` needs `--target DIR` (the binary has no site-packages of its own) and
    takes wheels only (building an sdist runs `sys.executable`, which is this binary, not
    a Python), with the bundle's versions as constraints; what it then installs that the
    bundle already has is deleted again. After an install, every wheel in DIR is checked
    against this interpreter's tags, which also catches --python-version/--platform
    pointed at another Python."""
    try:
        from pip._internal.cli.main import main as pip_entry
    except ImportError:
        print("trioserver: this build has no pip; fill a dependencies directory with another pip:\n" + mismatch_help(),
              file=sys.stderr)
        return 1
    command = _command(args)
    target = _target(args)
    if is_frozen() and command == "install" and not target:
        print("trioserver: `trioserver pip install` needs --target DIR: the binary has no site-packages of its own. "
              "Then list DIR under \"dependencies\" in langgraph.json, or pass --python-path DIR to serve.",
              file=sys.stderr)
        return 2
    if command in ("install", "download", "wheel"):
        bad = _foreign_wheel_files(args)
        if bad:
            print(f"trioserver: cannot use these wheels here:\n{describe(bad)}\n{mismatch_help()}", file=sys.stderr)
            return 1
        if is_frozen() and not any(a.startswith(("--no-binary", "--only-binary", "--prefer-binary")) for a in args):
            i = args.index(command)
            args = [*args[: i + 1], "--only-binary=:all:", *args[i + 1:]]
    constraints = _bundle_constraints() if is_frozen() and command == "install" else None
    if constraints:
        args = [*args, "--constraint", constraints]
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")  # its upgrade advice does not apply here
    if target:
        os.environ.setdefault("PIP_ROOT_USER_ACTION", "ignore")  # a --target dir is no system's site-packages
    sys.argv = ["trioserver pip", *args]
    before = {p.name for p in Path(target).glob("*.dist-info")} if target else set()
    try:
        rc = pip_entry(args)
    finally:
        if constraints:
            os.unlink(constraints)
    if rc == 0 and constraints and target:
        pruned = _prune_bundled(target, before)
        if pruned:
            print(f"trioserver: left out of {target} what the binary bundles at the same version: {', '.join(pruned)}",
                  file=sys.stderr)
    if rc == 0 and command == "install" and target:
        bad = unloadable([target])
        if bad:
            print(f"trioserver: {target} now holds packages this trioserver cannot load:\n{describe(bad)}\n"
                  f"{mismatch_help()}", file=sys.stderr)
            return 1
    return int(rc or 0)


class VersionAction(argparse.Action):
    """`--version`, computed only when asked (it reads package metadata)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show versions and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()
