"""A graph that touches the parts of the stdlib with C extensions and shared libraries, the
ones a frozen build most easily leaves out: a user graph may import any of them."""

import bz2
import ctypes
import decimal
import hashlib
import lzma
import os
import sqlite3
import ssl
import xml.etree.ElementTree as ET
import zlib
from typing import TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    checks: dict


def check(state: State):
    db = sqlite3.connect(":memory:")
    return {"checks": {
        "xml": ET.fromstring("<a><b>ok</b></a>").find("b").text,
        "sqlite": db.execute("select 'ok'").fetchone()[0],
        "ssl": "ok" if ssl.create_default_context() else "no",
        "ctypes": "ok" if ctypes.sizeof(ctypes.c_int) == 4 else "no",
        "compression": zlib.decompress(bz2.decompress(lzma.decompress(lzma.compress(bz2.compress(zlib.compress(b"ok"))))))
        .decode(),
        "decimal": str(decimal.Decimal("0.1") + decimal.Decimal("0.2")),
        "sha3": hashlib.sha3_256(b"").hexdigest()[:8],
        # What a subprocess of the graph inherits: the host's value (unset here), not the bundle's.
        "ld_library_path": os.environ.get("LD_LIBRARY_PATH", "unset"),
    }}


graph = StateGraph(State).add_node(check).add_edge(START, "check").compile()
