"""Custom auth and the API key with the official JS SDK: runs tests/js/auth_e2e.mjs against
a server with tests/graphs/auth.py, then against one with an API key. Skipped without node."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from authsupport import AUTH_CONFIG
from nodejs import node_and_npm
from serverproc import ServerProcess
from test_js_sdk import JS_DIR, _ensure_node_modules

SCRIPT = JS_DIR / "auth_e2e.mjs"
KEY = "tsk-js-0123456789abcdef"


def run_script(*args: str) -> str:
    node, npm = node_and_npm()
    _ensure_node_modules(npm)
    res = subprocess.run([node, str(SCRIPT), *args], cwd=JS_DIR, capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})
    output = res.stdout + res.stderr
    assert res.returncode == 0, output
    assert re.search(r"^\d+ passed, 0 failed$", output, re.M), output
    return output


@pytest.mark.parametrize("mode", ["custom", "apikey"])
def test_js_sdk_with_auth(tmp_path, mode):
    node_and_npm()  # skip before starting a server
    if mode == "custom":
        server = ServerProcess(tmp_path / "data", config=AUTH_CONFIG).start()
        args = ["custom", server.url]
    else:
        key_file = tmp_path / "key"
        key_file.write_text(KEY + "\n")
        server = ServerProcess(tmp_path / "data", extra_args=["--api-key-file", str(key_file)]).start()
        args = ["apikey", server.url, KEY]
    try:
        print(run_script(*args))
    finally:
        server.stop()
