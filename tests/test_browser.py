"""A chat page on `@langchain/react` `useStream` (tests/web/src), bundled with esbuild and
driven in headless Chromium by tests/web/driver.mjs against our server or
`TRIOSERVER_TEST_URL` (see tests/v2support.py): tokens stream in, turns keep their history,
stop cancels, an interrupt is shown and resumed, a reload and a second tab rejoin a run.

Needs node, npm and Debian's chromium (`apt-get install chromium`; CHROMIUM=<path> for
another); installs tests/web/node_modules with `npm ci` the first time. The requests the
page made are written to the test's tmp folder as netlog.json (what the hook asks for).
One scenario by name: `node tests/web/driver.mjs URL <part of name>`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from nodejs import ensure_node_modules, node_and_npm, run_node
from v2support import V2Target, v2  # noqa: F401  (v2 is a fixture)

WEB_DIR = Path(__file__).resolve().parent / "web"
DRIVER = WEB_DIR / "driver.mjs"
RUN_TIMEOUT = 150


def chromium() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.skip(f"the browser test needs Chromium (apt-get install chromium; or CHROMIUM=<path>); not found at {path}")
    return path


def test_use_stream_chat_page(v2: V2Target, tmp_path):  # noqa: F811
    node, npm = node_and_npm()
    browser = chromium()
    ensure_node_modules(npm, WEB_DIR, "@langchain/react")
    code, output = run_node([node, str(DRIVER), v2.url], WEB_DIR, RUN_TIMEOUT,
                            {"CHROMIUM": browser, "WEB_E2E_NETLOG": str(tmp_path / "netlog.json")})
    print(output)
    assert code == 0, f"node {DRIVER.name} exited with {code}:\n{output}"
    last = output.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed", last), f"unexpected summary line {last!r}:\n{output}"
