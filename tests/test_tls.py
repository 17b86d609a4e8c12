"""HTTPS with HTTP/2: what a browser on a LAN needs, since it opens at most six HTTP/1.1
connections per host and each open v2 thread view holds two event streams."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import uuid

import anyio
import httpx
import pytest
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = ServerProcess(folder / "data", extra_args=["--certfile", str(cert), "--keyfile", str(key)]).start()
    yield server, cert
    server.stop()


async def test_https_speaks_http2_and_many_streams_share_one_connection(tls_server):
    server, cert = tls_server
    async with httpx.AsyncClient(base_url=server.url, http2=True, verify=ssl.create_default_context(cafile=str(cert)), timeout=30) as http:
        ok = await http.get("/ok")
        assert ok.status_code == 200 and ok.http_version == "HTTP/2"
        thread = str(uuid.uuid4())
        started = await http.post(f"/threads/{thread}/commands", json={"id": 1, "method": "run.start", "params": {"assistant_id": "agent", "input": {"topic": "x"}}})
        assert started.json()["type"] == "success"
        # Eight event streams at once, more than a browser's six HTTP/1.1 connections: one
        # HTTP/2 connection carries them all.
        results: list[list[str]] = []

        async def stream() -> None:
            methods = []
            async with http.stream("POST", f"/threads/{thread}/stream/events", json={"channels": ["lifecycle"]}) as res:
                assert res.http_version == "HTTP/2"
                async for line in res.aiter_lines():
                    if line.startswith("event: "):
                        methods.append(line[7:])
                    if '"completed"' in line:
                        break
            results.append(methods)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                for _ in range(8):
                    group.start_soon(stream)
        assert results == [["lifecycle", "lifecycle"]] * 8


async def test_plain_http_also_speaks_h2c(http):
    async with httpx.AsyncClient(base_url=str(http.base_url), http2=True, http1=False, timeout=10) as h2c:
        res = await h2c.get("/ok")
    assert res.status_code == 200 and res.http_version == "HTTP/2"
