"""The export tests' outside world: a throwaway PostgreSQL (scripts/pg) and a real Aegra
(from PyPI, in .export-venv/, made once by scripts/aegra-venv)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from serverproc import ROOT, free_port

AEGRA_CONFIG = ROOT / "tests" / "export" / "aegra.json"


class Unavailable(Exception):
    """What the test needs cannot be had on this machine (the reason is the message)."""


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL on loopback for the duration; yields the URL of its `aegra` database.
    Its directory is a fresh one under the system temp dir: run as root, the server runs
    as `postgres`, which cannot enter pytest's private temp dirs."""
    pgdir = Path(tempfile.mkdtemp(prefix="trioserver-pg-"))
    started = subprocess.run([str(ROOT / "scripts" / "pg"), "start", str(pgdir)], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        raise Unavailable(f"could not start PostgreSQL: {started.stderr.strip()[-500:]}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(ROOT / "scripts" / "pg"), "stop", str(pgdir)], capture_output=True, timeout=120)
        shutil.rmtree(pgdir, ignore_errors=True)


def aegra_python() -> str:
    """The Python of the Aegra venv, made on first use (about 20 s, then cached)."""
    made = subprocess.run([str(ROOT / "scripts" / "aegra-venv")], capture_output=True, text=True, timeout=900)
    if made.returncode == 3:
        raise Unavailable(f"Aegra needs Python >= 3.12: {made.stderr.strip()}")
    if made.returncode != 0:
        raise Unavailable(f"could not install Aegra: {made.stderr.strip()[-800:]}")
    return made.stdout.strip().splitlines()[-1]


class AegraProcess:
    """`aegra-api` under uvicorn, on a free loopback port, serving tests/export/aegra.json.

    The cron scheduler is off: exported crons must not fire while the test compares states."""

    def __init__(self, python: str, database_url: str, log_path: Path) -> None:
        self.python = python
        self.database_url = database_url
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> AegraProcess:
        env = {
            **os.environ,
            "AEGRA_CONFIG": str(AEGRA_CONFIG),
            "DATABASE_URL": self.database_url,
            "CRON_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.python, "-m", "uvicorn", "aegra_api.main:app", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=AEGRA_CONFIG.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Aegra exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Aegra did not start in {timeout} s: {self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        self.proc = None
