"""What auth costs per request: the same load against our server with no auth, with the
built-in API key, and with custom auth (tests/graphs/auth.py: bearer tokens, owner
stamps and filters; and the same with an authenticate function that awaits, so it runs
on the graph loop instead of inline).

Per mode: a cheap read (`GET /threads/{id}`, one client, back to back) for the cost of
one request, then stateless `POST /runs/stream` runs (agent graph) at 1 and 8 clients,
runs/s and time to first event. The per-request cost of a mode is its read latency
minus the no-auth one.

    .venv/bin/python scripts/bench_auth.py [--quick] [--workers N]

prints a table, then one JSON line; `scripts/bench` runs it as the `auth` scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_http import Client, SSECounter, now  # noqa: E402

BENCH = ROOT / ".bench" / "auth"
OURS_BIN = ROOT / ".venv" / "bin" / "trioserver"
HOST = "127.0.0.1"
KEY = "bench-0123456789abcdef0123456789abcdef"
AGENT_BODY = json.dumps({"assistant_id": "agent", "input": {"topic": "cats"}, "stream_mode": "updates"}).encode()
JSON = {"content-type": "application/json"}

# The test module's handlers, with an authenticate function that awaits (it runs on the graph loop).
AWAITING_AUTH = '''
import asyncio, importlib.util
spec = importlib.util.spec_from_file_location("bench_test_auth", {test_auth!r})
test_auth = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test_auth)
auth = test_auth.auth
sync_lookup = auth._authenticate_handler

async def authenticate(authorization: str | None):
    await asyncio.sleep(0)  # stands for a call to an identity provider
    return await sync_lookup(authorization)

auth._authenticate_handler = authenticate
'''

MODES = {
    "none": {"headers": {}},
    "api key": {"headers": {"x-api-key": KEY}, "key": True},
    "custom auth": {"headers": {"authorization": "Bearer alice-token"}, "auth": "./auth.py:auth"},
    "custom auth, awaiting authenticate": {"headers": {"authorization": "Bearer alice-token"}, "auth": "./awaiting_auth.py:auth"},
}


def progress(msg: str) -> None:
    print(f"[bench auth] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else None


def prepare(workdir: Path) -> None:
    """A langgraph.json per mode in `workdir`, over the repository's graph and auth files."""
    workdir.mkdir(parents=True, exist_ok=True)
    graphs = {"agent": str(ROOT / "trioserver" / "examples" / "joke.py") + ":graph"}
    shutil.copy(ROOT / "tests" / "graphs" / "auth.py", workdir / "auth.py")
    (workdir / "awaiting_auth.py").write_text(AWAITING_AUTH.format(test_auth=str(ROOT / "tests" / "graphs" / "auth.py")))
    (workdir / "key").write_text(KEY + "\n")
    for name, mode in MODES.items():
        config: dict[str, Any] = {"dependencies": ["."], "graphs": graphs}
        if mode.get("auth"):
            config["auth"] = {"path": mode["auth"]}
        (workdir / f"{slug(name)}.json").write_text(json.dumps(config))


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


class Server:
    def __init__(self, name: str, workdir: Path, workers: int) -> None:
        self.port = free_port()
        data = workdir / f"data-{slug(name)}"
        shutil.rmtree(data, ignore_errors=True)
        cmd = [str(OURS_BIN), "serve", "--config", str(workdir / f"{slug(name)}.json"), "--host", HOST, "--port", str(self.port),
               "--data-dir", str(data), "--log-level", "warning", "--workers", str(workers)]
        if MODES[name].get("key"):
            cmd += ["--api-key-file", str(workdir / "key")]
        env = {k: v for k, v in os.environ.items() if k != "TRIOSERVER_API_KEY"}
        self.log = open(workdir / f"{slug(name)}.log", "ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    async def ready(self, within: float = 60.0) -> None:
        client = Client(HOST, self.port)
        deadline = now() + within
        try:
            while now() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}")
                try:
                    if (await client.request("GET", "/ok", timeout=2)).status == 200:
                        return
                except Exception:  # noqa: BLE001 - not listening yet
                    client.close()
                await asyncio.sleep(0.05)
            raise RuntimeError("server did not answer /ok")
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


async def reads(port: int, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """GET /threads/{id} back to back on one connection: the cost of one request."""
    client = Client(HOST, port)
    try:
        made = await client.request("POST", "/threads", b"{}", {**headers, **JSON})
        assert made.status == 200, (made.status, made.body[:200])
        path = f"/threads/{json.loads(made.body)['thread_id']}"
        for _ in range(200):  # warm-up
            await client.request("GET", path, headers=headers)
        latencies: list[float] = []
        t0 = now()
        while now() - t0 < seconds:
            r = await client.request("GET", path, headers=headers)
            assert r.status == 200, r.status
            latencies.append(r.t_end - r.t_sent)
        elapsed = now() - t0
    finally:
        client.close()
    return {"requests_per_s": len(latencies) / elapsed, "p50_us": 1e6 * pct(latencies, 0.5), "p99_us": 1e6 * pct(latencies, 0.99)}


async def streams(port: int, headers: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """Stateless agent runs streamed back to back by `clients` clients."""
    ttfe: list[float] = []
    deadline = now() + seconds
    errors = 0

    async def worker() -> None:
        nonlocal errors
        client = Client(HOST, port)
        try:
            while now() < deadline:
                counter = SSECounter()
                r = await client.request("POST", "/runs/stream", AGENT_BODY, {**headers, **JSON, "accept": "text/event-stream"}, sink=counter, timeout=120)
                if r.status != 200 or counter.count != 3:
                    errors += 1
                    continue
                ttfe.append(counter.t_first_event - r.t_sent)
        finally:
            client.close()

    t0 = now()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = now() - t0
    return {"runs_per_s": len(ttfe) / elapsed, "ttfe_p50_ms": 1e3 * pct(ttfe, 0.5) if ttfe else None, "runs": len(ttfe), "errors": errors}


async def measure(quick: bool, workers: int) -> dict[str, Any]:
    """Every mode's server up at once (idle ones cost nothing), measured in alternating
    rounds, so a neighbour's load on a shared machine hits every mode alike; medians."""
    rounds, read_s, run_s = (3, 1.0, 2.0) if quick else (5, 2.0, 4.0)
    BENCH.mkdir(parents=True, exist_ok=True)
    workdir = BENCH / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    prepare(workdir)
    servers = {name: Server(name, workdir, workers) for name in MODES}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {name: {"reads": [], "stateless_1": [], "stateless_8": []} for name in MODES}
    try:
        for server in servers.values():
            await server.ready()
        for name, server in servers.items():  # warm-up
            await streams(server.port, MODES[name]["headers"], 4, 1.0)
        for n in range(rounds):
            for name, server in servers.items():
                headers = MODES[name]["headers"]
                samples[name]["reads"].append(await reads(server.port, headers, read_s))
                for clients in (1, 8):
                    samples[name][f"stateless_{clients}"].append(await streams(server.port, headers, clients, run_s))
            progress(f"round {n + 1}/{rounds} done")
    finally:
        for server in servers.values():
            server.stop()
    results: dict[str, Any] = {}
    for name, kinds in samples.items():
        results[name] = {kind: {key: median([s[key] for s in runs]) for key in runs[0]} for kind, runs in kinds.items()}
    base = results["none"]["reads"]["p50_us"]
    for out in results.values():
        out["cost_per_request_us"] = out["reads"]["p50_us"] - base
    results["in_process"] = micro()
    return results


def median(values: list[Any]) -> Any:
    values = [v for v in values if v is not None]
    return sorted(values)[len(values) // 2] if values else None


def micro(n: int = 20000) -> dict[str, float]:
    """The gate's own work, in this process, per request (microseconds): the key check,
    the authenticate call of tests/graphs/auth.py, one handler with its filter, and an
    authenticate that awaits (a trip to the graph loop and back)."""
    sys.path.insert(0, str(ROOT))
    import trio

    from trioserver.auth import Authorizer
    from trioserver.auth.apikey import ApiKeys
    from trioserver.auth.context import current
    from trioserver.auth.loader import load_auth_object
    from trioserver.runtime.bridge import AsyncioBridge

    keys = ApiKeys([KEY, "another-key-for-rotation"])
    workdir = BENCH / "run"
    plain = load_auth_object("./auth.py:auth", workdir)
    awaiting = load_auth_object("./awaiting_auth.py:auth", workdir)

    class Request:
        headers = {"authorization": "Bearer alice-token", "x-api-key": KEY}
        scope: dict[str, Any] = {"headers": []}
        path, method, view_args, args = "/threads", "GET", {}, {}

    out: dict[str, float] = {}

    async def main() -> None:
        bridge = AsyncioBridge()
        try:
            t0 = time.perf_counter()
            for _ in range(n):
                keys.check(Request.headers)
            out["api_key_check_us"] = 1e6 * (time.perf_counter() - t0) / n
            authorizer = Authorizer(plain, bridge)
            t0 = time.perf_counter()
            for _ in range(n):
                principal = await authorizer.authenticate(Request)
            out["authenticate_us"] = 1e6 * (time.perf_counter() - t0) / n
            current.set(principal)
            t0 = time.perf_counter()
            for _ in range(n):
                allowed = await authorizer.authorize("threads", "read", {"thread_id": None})
                allowed.allows({"owner": "alice"})
            out["handler_and_filter_us"] = 1e6 * (time.perf_counter() - t0) / n
            slow = Authorizer(awaiting, bridge)
            t0 = time.perf_counter()
            for _ in range(n // 10):
                await slow.authenticate(Request)
            out["awaiting_authenticate_us"] = 1e6 * (time.perf_counter() - t0) / (n // 10)
        finally:
            bridge.close()

    trio.run(main)
    return out


def table(results: dict[str, Any]) -> str:
    head = ("mode", "GET /threads/{id} p50 (us)", "cost per request (us)", "runs/s, 1 client", "TTFE p50 (ms), 1 client", "runs/s, 8 clients", "TTFE p50 (ms), 8 clients")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for name, out in results.items():
        if name == "in_process":
            continue
        one, eight = out["stateless_1"], out["stateless_8"]
        cells = (name, f"{out['reads']['p50_us']:.0f}", f"{out['cost_per_request_us']:+.0f}", f"{one['runs_per_s']:.1f}",
                 f"{one['ttfe_p50_ms']:.2f}", f"{eight['runs_per_s']:.1f}", f"{eight['ttfe_p50_ms']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    micro = results.get("in_process") or {}
    if micro:
        lines.append("")
        lines.append("In process, per request: " + ", ".join(f"{k.removesuffix('_us').replace('_', ' ')} {v:.1f} us" for k, v in micro.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="the servers' --workers")
    args = parser.parse_args()
    started = time.monotonic()
    results = asyncio.run(measure(args.quick, args.workers))
    print(table(results))
    print(f"({time.monotonic() - started:.0f} s)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
