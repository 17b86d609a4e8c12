"""Running the node scripts of the v2 client tests: node on PATH, `npm ci` when needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_TIMEOUT = 300


def node_and_npm() -> tuple[str, str]:
    """Paths of node and npm, or skip the test saying which is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip(f"needs node and npm on PATH (node: {node}, npm: {npm})")
    return node, npm


def node_flags(node: str) -> list[str]:
    """Node 20/21 have a global WebSocket only behind a flag; 22+ always have it."""
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v").split(".")[0])
    return ["--experimental-websocket"] if major < 22 else []


def _installed(folder: Path, package: str) -> str | None:
    try:
        return json.loads((folder / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_node_modules(npm: str, folder: Path, package: str) -> None:
    """`npm ci` in `folder`, unless its pinned `package` is installed there already."""
    pinned = json.loads((folder / "package.json").read_text())["dependencies"][package]
    if _installed(folder, package) == pinned:
        return
    cmd = [npm, "ci", "--no-audit", "--no-fund"]
    try:
        res = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(cmd)}` in {folder} timed out after {INSTALL_TIMEOUT} s:\n{exc.stdout or ''}{exc.stderr or ''}")
    assert res.returncode == 0, f"`{' '.join(cmd)}` in {folder} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    assert _installed(folder, package) == pinned, f"{package} {_installed(folder, package)} installed, {pinned} pinned"


def run_node(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str]) -> tuple[int | None, str]:
    """Run a node script; its exit code (None when killed on timeout) and all it printed."""
    try:
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                             env={**os.environ, "NO_COLOR": "1", **env})
        return res.returncode, res.stdout + res.stderr
    except subprocess.TimeoutExpired as exc:
        out = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stdout, exc.stderr))
        return None, out + f"\n(killed after {timeout} s)"
