"""Fixtures: a real server over real HTTP, and the official SDK client pointed at it."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_client
from serverproc import ServerProcess


@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"  # the official SDK is asyncio code


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("server") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server.url


@pytest.fixture
async def client(base_url):
    client = get_client(url=base_url, api_key=None)
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def http(base_url):
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def conformance_url(tmp_path_factory):
    """A second server on the graphs (and the LANGGRAPH_CONFIG) that the reference's answers
    in docs/reference-behaviour/raw were recorded with."""
    from serverproc import ROOT

    proc = ServerProcess(tmp_path_factory.mktemp("conformance") / "data", config=ROOT / "tests" / "graphs" / "conformance.json").start()
    yield proc.url
    proc.stop()
