"""Regression tests for the connection fixes in trioserver/patches.py (they patch the
pinned hypercorn and quart-trio): connections are closed, and an idle keep-alive
connection does not hold up a stop."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _request_with_close(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # ends only if the server closes the connection
            received += chunk
    return received


async def test_connections_are_closed_after_connection_close(server):
    assert server.proc is not None
    before = _open_fds(server.proc.pid)
    for _ in range(200):
        assert b'"ok":true' in _request_with_close(server.port)
    deadline = time.monotonic() + 10
    while _open_fds(server.proc.pid) > before + 20 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _open_fds(server.proc.pid) <= before + 20  # not one descriptor per request


async def test_an_idle_keep_alive_connection_does_not_delay_the_stop(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        idle.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b'"ok":true' not in answer:  # answered, and kept open
            answer += idle.recv(65536)
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 2.5
