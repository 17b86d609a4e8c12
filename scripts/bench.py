"""Benchmarks of trioserver side by side with the reference server (`langgraph dev`, in-memory).

Run through `scripts/bench` (it prepares both virtualenvs). This process is the load
generator: a separate process from both servers, driving one server at a time with the
same cheap asyncio client (scripts/bench_http.py), so the two are measured under the same
conditions and never compete for the machine's cores with each other.

Per server: start-up time and idle RSS, stateless `POST /runs/stream` at 1/8/32 clients,
RSS over 5,000 runs, token streaming, a 500-subscriber thread fan-out, and a replay of a
thread of ~100,000 events. Then our event log's appends/s at each durability setting
(scripts/bench_eventlog.py). Progress goes to stderr, the table to stdout and to
.bench/results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from bench_http import Client, Conn, SSECounter, TimedSSE, now  # noqa: E402
from proctree import cpu_seconds, rss_kb  # noqa: E402

BENCH = ROOT / ".bench"
CONFIG = ROOT / "tests" / "graphs" / "langgraph.json"
OURS_BIN = ROOT / ".venv" / "bin" / "trioserver"
OURS_PY = ROOT / ".venv" / "bin" / "python"
REF_BIN = BENCH / "ref-venv" / "bin" / "langgraph"
PYSPY = BENCH / "tools-venv" / "bin" / "py-spy"
HOST = "127.0.0.1"
T0 = time.monotonic()


def progress(msg: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def jdump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


# -- parameters -------------------------------------------------------------------------

FULL = dict(
    level_seconds=10.0, level_runs=2000, levels=(1, 8, 32),
    rss_runs=5000, rss_every=1000, rss_seconds={"ours": 150.0, "ref": 60.0},
    token_seconds=10.0, token_runs=5000,
    fan_subs=500, fan_runs=20, fan_timeout=120.0,
    replay_events=100_000, replay_build_seconds={"ours": 240.0, "ref": 90.0},
    eventlog_events=50_000,
)
QUICK = dict(
    level_seconds=3.0, level_runs=500, levels=(1, 8, 32),
    rss_runs=1000, rss_every=250, rss_seconds={"ours": 30.0, "ref": 15.0},
    token_seconds=3.0, token_runs=1000,
    fan_subs=100, fan_runs=5, fan_timeout=60.0,
    replay_events=10_000, replay_build_seconds={"ours": 30.0, "ref": 20.0},
    eventlog_events=10_000,
)
SCENARIOS = ("stateless", "rss", "tokens", "fanout", "replay", "v2", "eventlog", "ceiling", "binary", "auth")


# -- servers ------------------------------------------------------------------------------

RUNNING: list["Server"] = []


class Server:
    """One server under test, in its own session (so a terminal Ctrl-C reaches only us,
    and we stop it, children included, by its process group)."""

    def __init__(self, kind: str, workdir: Path, durability: str, workers: int = 1) -> None:
        self.kind = kind
        self.workdir = workdir
        self.durability = durability
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.startup_s: float | None = None
        self.log_path = workdir / f"{kind}.log"
        self.profiler: subprocess.Popen | None = None

    def command(self) -> tuple[list[str], Path, dict[str, str]]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.kind == "ours":
            data = self.workdir / "ours-data"
            shutil.rmtree(data, ignore_errors=True)
            cmd = [str(OURS_BIN), "serve", "--config", str(CONFIG), "--host", HOST, "--port", str(self.port),
                   "--data-dir", str(data), "--durability", self.durability, "--log-level", "warning",
                   "--workers", str(self.workers)]
            return cmd, ROOT, env
        # The reference resolves graph paths against its working directory and keeps its
        # state in ./.langgraph_api: run it in a scratch directory with a copy of our
        # langgraph.json whose paths point at the very same graph files.
        refdir = self.workdir / "ref"
        shutil.rmtree(refdir, ignore_errors=True)
        refdir.mkdir(parents=True)
        config = json.loads(CONFIG.read_text())
        base = CONFIG.parent
        config["dependencies"] = [str((base / d).resolve()) for d in config.get("dependencies", [])]
        config["graphs"] = {
            name: f"{(base / spec.split(':')[0]).resolve()}:{spec.split(':', 1)[1]}" for name, spec in config["graphs"].items()
        }
        (refdir / "langgraph.json").write_text(json.dumps(config, indent=2))
        env.update(LANGSMITH_TRACING="false", LANGCHAIN_TRACING_V2="false", LANGGRAPH_CLI_NO_ANALYTICS="1", LANGSMITH_API_KEY="")
        cmd = [str(REF_BIN), "dev", "--config", "langgraph.json", "--port", str(self.port), "--host", HOST,
               "--no-browser", "--no-reload", "--server-log-level", "WARNING"]
        return cmd, refdir, env

    async def start(self, timeout: float = 120.0) -> None:
        cmd, cwd, env = self.command()
        log = open(self.log_path, "ab")
        t0 = now()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        RUNNING.append(self)
        log.close()
        deadline = t0 + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = await Conn.open(HOST, self.port, timeout=1)
                try:
                    r = await conn.request("GET", "/ok", timeout=2)
                finally:
                    conn.close()
                if r.status == 200:
                    self.startup_s = now() - t0
                    return
            except (OSError, asyncio.TimeoutError, Exception):
                pass
            await asyncio.sleep(0.01)
        raise RuntimeError(f"{self.kind} server did not answer /ok within {timeout} s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss(self) -> dict[str, int]:
        return rss_kb(self.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def main_cpu(self) -> float:
        """The server process alone (without graph workers)."""
        return cpu_seconds(self.pid, tree=False)

    def start_profiler(self, out: Path) -> None:
        self.profiler = subprocess.Popen(
            [str(PYSPY), "record", "--pid", str(self.pid), "--format", "raw", "--rate", "200", "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=open(self.workdir / "py-spy.log", "ab"), start_new_session=True,
        )

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                progress(f"{self.kind} server ignored SIGTERM for 20 s: SIGKILL")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        elif proc is not None:
            progress(f"{self.kind} server had already exited with {proc.returncode}")
        if self.profiler is not None:
            try:
                self.profiler.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.profiler.pid, signal.SIGINT)
                self.profiler.wait(10)
            self.profiler = None


# -- scenarios --------------------------------------------------------------------------

class Errors:
    """Counts errors by kind, keeps a few samples."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.samples: dict[str, str] = {}

    def add(self, kind: str, sample: str = "") -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.samples.setdefault(kind, sample[:300])

    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        return "; ".join(f"{k} x{n}" + (f" ({self.samples[k]})" if self.samples.get(k) else "") for k, n in self.counts.items())


async def run_streams(port: int, concurrency: int, max_runs: int, max_seconds: float, path: str, body: bytes,
                      errors: Errors, expect_events: int | None = None, srv: Server | None = None) -> dict[str, Any]:
    """`concurrency` clients each doing streamed runs back to back until `max_runs` were
    started or `max_seconds` passed (runs in flight then finish). Per run: time to first
    event (first body byte, the metadata event), time to end."""
    started = 0
    ttfe: list[float] = []
    tte: list[float] = []
    events = 0
    t0 = now()
    deadline = t0 + max_seconds
    cpu0 = srv.cpu() if srv else 0.0
    main0 = srv.main_cpu() if srv else 0.0
    ru0 = resource.getrusage(resource.RUSAGE_SELF)

    async def worker() -> None:
        nonlocal started, events
        client = Client(HOST, port)
        try:
            while started < max_runs and now() < deadline:
                started += 1
                counter = SSECounter()
                try:
                    r = await client.request("POST", path, body, {"accept": "text/event-stream"}, sink=counter, timeout=180)
                except Exception as exc:  # noqa: BLE001
                    errors.add(f"{type(exc).__name__}", repr(exc))
                    client.close()
                    continue
                if r.status != 200:
                    errors.add(f"HTTP {r.status}", "")
                    continue
                if counter.count == 0:
                    errors.add("stream without events")
                    continue
                if expect_events is not None and counter.count != expect_events:
                    errors.add(f"{counter.count} events instead of {expect_events}")
                ttfe.append(counter.t_first_event - r.t_sent)
                tte.append(r.t_end - r.t_sent)
                events += counter.count
        finally:
            client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = now() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    runs = len(tte)
    return {
        "runs": runs,
        "seconds": elapsed,
        "runs_per_s": runs / elapsed if elapsed else None,
        "events": events,
        "events_per_s": events / elapsed if elapsed else None,
        "ttfe_p50": pct(ttfe, 0.5), "ttfe_p99": pct(ttfe, 0.99),
        "tte_p50": pct(tte, 0.5), "tte_p99": pct(tte, 0.99),
        "client_cpu_pct": 100 * client_cpu / elapsed if elapsed else None,
        "server_cpu_ms_per_run": 1000 * (srv.cpu() - cpu0) / runs if (srv and runs) else None,
        "main_cpu_ms_per_run": 1000 * (srv.main_cpu() - main0) / runs if (srv and runs) else None,
        "capped_by_time": started < max_runs,
    }


AGENT_BODY = jdump({"assistant_id": "agent", "input": {"topic": "cats"}, "stream_mode": "updates"})
LLM_BODY = jdump({"assistant_id": "llm", "input": {"topic": "cats"}, "stream_mode": "messages-tuple"})


async def scenario_stateless(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    progress(f"{srv.kind}: warm-up")
    await run_streams(srv.port, 4, 20, 3.0, "/runs/stream", AGENT_BODY, Errors())
    for c in p["levels"]:
        progress(f"{srv.kind}: stateless POST /runs/stream (agent), {c} client(s), up to {p['level_runs']} runs / {p['level_seconds']:.0f} s")
        r = await run_streams(srv.port, c, p["level_runs"], p["level_seconds"], "/runs/stream", AGENT_BODY, errors, expect_events=3, srv=srv)
        res[f"stateless_{c}"] = r
        progress(f"{srv.kind}:   {r['runs']} runs, {r['runs_per_s']:.1f} runs/s, ttfe p50 {ms(r['ttfe_p50'])} ms, "
                 f"tte p99 {ms(r['tte_p99'])} ms, client cpu {r['client_cpu_pct']:.0f}%")


V2_EVENTS = 3000  # custom events per run in the v2-vs-classic comparison


async def _stream_until(port: int, method: str, path: str, body: bytes, done: bytes | None, timeout: float = 120.0) -> int:
    """Stream a response until it ends, or until a chunk carries `done` (a stream that
    stays open); returns the SSE events read."""
    counter = SSECounter(marker=done)
    client = Client(HOST, port)
    task = asyncio.ensure_future(client.request(method, path, body, {"accept": "text/event-stream"}, sink=counter, timeout=timeout))
    deadline = now() + timeout
    try:
        while not task.done() and not (done and counter.seen_marker) and now() < deadline:
            await asyncio.sleep(0.005)
    finally:
        task.cancel()
        client.close()
    return counter.count


async def scenario_v2(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    """The cost of one event on the event streaming protocol (v2) next to the classic
    stream: a run of the chatty graph streams V2_EVENTS custom events, read once through
    `POST /threads/{t}/runs/stream` (stream_mode=custom) and once as a v2 run through
    `POST /threads/{t}/stream/events`; server CPU per event received, and events/s."""
    out: dict[str, Any] = {}
    chatty = {"count": V2_EVENTS, "size": 200}
    for name in ("classic", "v2"):
        thread = await new_thread(srv.port)
        cpu0, t0 = srv.cpu(), now()
        if name == "classic":
            body = jdump({"assistant_id": "chatty", "input": chatty, "stream_mode": "custom"})
            count = await _stream_until(srv.port, "POST", f"/threads/{thread}/runs/stream", body, None)
        else:
            client = Client(HOST, srv.port)
            try:
                r = await client.request("POST", f"/threads/{thread}/commands", jdump({"id": 1, "method": "run.start", "params": {"assistant_id": "chatty", "input": chatty}}), {})
            finally:
                client.close()
            if r.status != 200:
                errors.add(f"v2 run.start HTTP {r.status}")
                continue
            body = jdump({"channels": ["custom", "lifecycle"]})
            count = await _stream_until(srv.port, "POST", f"/threads/{thread}/stream/events", body, b'"completed"')
        elapsed, cpu = now() - t0, srv.cpu() - cpu0
        out[name] = {"events": count, "seconds": elapsed, "events_per_s": count / elapsed if elapsed else None,
                     "cpu_us_per_event": 1e6 * cpu / count if count else None}
        progress(f"{srv.kind}: {name}: {count} events in {elapsed:.2f} s, {out[name]['cpu_us_per_event'] or 0:.0f} us server CPU per event")
    res["v2"] = out


def scenario_ceiling(p: dict, processes: int) -> dict[str, Any] | None:
    """The graph-alone ceiling (scripts/bench_ceiling.py) in `processes` processes."""
    progress(f"ceiling: the agent graph alone, astream in {processes} process(es), 32 concurrent runs each")
    cp = subprocess.run([str(OURS_PY), str(HERE / "bench_ceiling.py"), "--processes", str(processes), "--seconds", str(p["level_seconds"]), "--concurrency", "32"],
                        capture_output=True, text=True)
    try:
        result: dict[str, Any] = json.loads(cp.stdout.strip().splitlines()[-1])
        return result
    except (ValueError, IndexError):
        progress(f"ceiling: failed: {cp.stderr[-500:]}")
        return None


async def scenario_rss(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    """RSS sampled every `rss_every` runs over `rss_runs` stateless runs at 8 clients."""
    budget = p["rss_seconds"][srv.kind]
    progress(f"{srv.kind}: RSS over {p['rss_runs']} stateless runs at 8 clients (time cap {budget:.0f} s)")
    def sample(n: int) -> tuple[int, int, int, int]:
        m = srv.rss()
        return n, m["VmRSS"], m["RssAnon"], m["RssFile"]

    samples = [sample(0)]
    done = 0
    t_end = now() + budget
    while done < p["rss_runs"] and now() < t_end:
        r = await run_streams(srv.port, 8, min(p["rss_every"], p["rss_runs"] - done), t_end - now(), "/runs/stream", AGENT_BODY, errors)
        if r["runs"] == 0:
            break
        done += r["runs"]
        samples.append(sample(done))
        progress(f"{srv.kind}:   after {done} runs: RSS {samples[-1][1] / 1024:.1f} MB (anon {samples[-1][2] / 1024:.1f} MB)")
    res["rss_runs"] = {"runs": done, "samples": samples, "capped_by_time": done < p["rss_runs"]}


async def scenario_tokens(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    progress(f"{srv.kind}: token streaming (llm, messages-tuple), 1 client, up to {p['token_runs']} runs / {p['token_seconds']:.0f} s")
    r = await run_streams(srv.port, 1, p["token_runs"], p["token_seconds"], "/runs/stream", LLM_BODY, errors, srv=srv)
    r["events_per_run"] = r["events"] / r["runs"] if r["runs"] else None
    res["tokens"] = r
    progress(f"{srv.kind}:   {r['events']} events in {r['runs']} runs: {r['events_per_s']:.0f} events/s")


async def new_thread(port: int) -> str:
    client = Client(HOST, port)
    try:
        r = await client.request("POST", "/threads", jdump({}))
        if r.status != 200:
            raise RuntimeError(f"POST /threads: {r.status} {r.body!r}")
        return json.loads(r.body)["thread_id"]
    finally:
        client.close()


async def scenario_fanout(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    """`fan_subs` subscribers on one thread's stream while `fan_runs` agent runs execute on it.

    Delivery lag: for each event (by its SSE id), each subscriber's arrival time minus the
    earliest arrival among all subscribers. Also the age of each delivery: arrival wall
    time minus the server's timestamp in the event id (`<ms>-<seq>`, ms resolution)."""
    n_subs, n_runs = p["fan_subs"], p["fan_runs"]
    progress(f"{srv.kind}: fan-out: {n_subs} subscribers on one thread, {n_runs} agent runs")
    thread_id = await new_thread(srv.port)
    path = f"/threads/{thread_id}/stream"
    sinks = [TimedSSE() for _ in range(n_subs)]
    conns: list[Conn] = []
    futures: list[asyncio.Future] = []
    sem = asyncio.Semaphore(50)

    async def subscribe(sink: TimedSSE) -> None:
        async with sem:
            conn = await Conn.open(HOST, srv.port)
            conns.append(conn)
            fut = conn.send("GET", path, None, {"accept": "text/event-stream"}, sink=sink)
            futures.append(fut)
            t_deadline = now() + 30
            while not conn._resp.t_head and not fut.done() and now() < t_deadline:  # noqa: SLF001
                await asyncio.sleep(0.005)
            if conn._resp.status != 200:  # noqa: SLF001
                errors.add(f"subscribe HTTP {conn._resp.status}")  # noqa: SLF001

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t_done = t_runs = now()
    try:
        t_sub = now()
        await asyncio.gather(*(subscribe(s) for s in sinks))
        progress(f"{srv.kind}:   {len(conns)} subscribers connected in {now() - t_sub:.2f} s")
        await asyncio.sleep(0.5)
        wall_offset = time.time() - now()
        client = Client(HOST, srv.port)
        run_ids = []
        body = jdump({"assistant_id": "agent", "input": {"topic": "fan-out"}, "multitask_strategy": "enqueue", "stream_resumable": True})
        t_runs = now()
        for _ in range(n_runs):
            r = await client.request("POST", f"/threads/{thread_id}/runs", body)
            if r.status != 200:
                errors.add(f"create run HTTP {r.status}", r.body.decode(errors="replace"))
                continue
            run_ids.append(json.loads(r.body)["run_id"])
        client.close()
        markers = [f'"run_done","run_id":"{rid}"'.encode() for rid in run_ids]
        last = markers[-1] if markers else b"\x00"

        def complete(sink: TimedSSE) -> bool:
            tail = b"".join(d for _, d in sink.pieces[-3:])
            return last in tail

        deadline = now() + p["fan_timeout"]
        while now() < deadline:
            if all(complete(s) for s in sinks):
                break
            await asyncio.sleep(0.05)
        t_done = now()
        progress(f"{srv.kind}:   runs done and delivered after {t_done - t_runs:.1f} s")
    finally:
        for conn in conns:
            conn.abort()
        for fut in futures:
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled() and fut.exception() is not None:
                pass

    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # Analysis.
    first: dict[str, float] = {}
    per_sub: list[list[tuple[float, str, str]]] = []
    for sink in sinks:
        evs = []
        for i, (t, name, data, eid) in enumerate(sink.events()):
            key = eid if eid is not None else f"#{i}"
            evs.append((t, key, name))
            if key not in first or t < first[key]:
                first[key] = t
        per_sub.append(evs)
    lags, ages = [], []
    keys_all = set(first)
    delivered = 0
    for evs in per_sub:
        for t, key, _ in evs:
            lags.append(t - first[key])
            delivered += 1
            if "-" in key and not key.startswith("#"):
                ages.append((t + wall_offset) * 1000 - int(key.split("-")[0]))
    expected = len(keys_all) * n_subs
    run_done_seen = sum(1 for s in sinks if s.pieces and b"".join(d for _, d in s.pieces).count(b"run_done") >= len(run_ids))
    if delivered < expected:
        errors.add("fan-out deliveries missing", f"{expected - delivered} of {expected}")
    if run_done_seen < n_subs:
        errors.add("fan-out subscribers that did not see every run end", f"{n_subs - run_done_seen} of {n_subs}")
    res["fanout"] = {
        "subscribers": n_subs, "connected": len(conns), "runs": len(run_ids), "events": len(keys_all),
        "deliveries": delivered, "expected": expected, "complete_subs": run_done_seen,
        "lag_p50": pct(lags, 0.5), "lag_p99": pct(lags, 0.99), "lag_max": max(lags) if lags else None,
        "age_p50_ms": pct(ages, 0.5), "age_p99_ms": pct(ages, 0.99),
        "seconds": t_done - t_runs,
        "client_cpu_pct": 100 * client_cpu / (t_done - t_sub) if t_done > t_sub else None,
    }
    f = res["fanout"]
    progress(f"{srv.kind}:   {f['events']} events x {n_subs} subs, {delivered}/{expected} delivered, "
             f"lag p50 {ms(f['lag_p50'])} ms p99 {ms(f['lag_p99'])} ms, age p99 {num(f['age_p99_ms'])} ms")


async def scenario_replay(srv: Server, p: dict, res: dict, errors: Errors) -> None:
    """Build one thread with llm runs (messages-tuple, stream_resumable) until it holds
    ~`replay_events` events or the build time budget ran out, then replay it from `-`."""
    target = p["replay_events"]
    budget = p["replay_build_seconds"][srv.kind]
    progress(f"{srv.kind}: replay: building a thread of ~{target} events with llm runs (time cap {budget:.0f} s)")
    thread_id = await new_thread(srv.port)
    body = jdump({"assistant_id": "llm", "input": {"topic": "cats"}, "stream_mode": "messages-tuple",
                  "stream_resumable": True, "multitask_strategy": "enqueue"})
    # One streamed run to learn how many events a run leaves on the thread stream.
    client = Client(HOST, srv.port)
    counter = SSECounter()
    r = await client.request("POST", f"/threads/{thread_id}/runs/stream", body, {"accept": "text/event-stream"}, sink=counter, timeout=60)
    client.close()
    if r.status != 200:
        errors.add(f"replay build HTTP {r.status}")
        return
    per_run = counter.count + 1  # + the run_done metadata event of the thread stream
    runs_needed = max(1, -(-target // per_run)) - 1
    created = 1
    last_run: list[str] = [r.headers.get("content-location", "").rsplit("/", 1)[-1]]
    t0 = now()
    t_end = t0 + budget
    next_report = t0 + 15

    async def builder() -> None:
        # Two clients on the same thread with `enqueue`: the next run is always queued when
        # one ends, so the server never waits for a round trip.
        nonlocal created, next_report
        c = Client(HOST, srv.port)
        try:
            while created < runs_needed + 1 and now() < t_end:
                created += 1
                resp = await c.request("POST", f"/threads/{thread_id}/runs/wait", body, timeout=120)
                if resp.status != 200:
                    errors.add(f"replay build runs/wait HTTP {resp.status}", resp.body.decode(errors="replace"))
                    created -= 1
                    await asyncio.sleep(0.1)
                    continue
                run_id = resp.headers.get("content-location", "").rsplit("/", 1)[-1]
                if run_id:
                    last_run.append(run_id)
                if now() > next_report:
                    next_report = now() + 15
                    progress(f"{srv.kind}:   {created} runs (~{created * per_run} events) after {now() - t0:.0f} s")
        finally:
            c.close()

    await asyncio.gather(builder(), builder())
    build_s = now() - t0
    # The last run to finish is the thread's last; find it by listing the thread's runs.
    client = Client(HOST, srv.port)
    r = await client.request("GET", f"/threads/{thread_id}/runs?limit=1")
    newest = json.loads(r.body)[0]["run_id"] if r.status == 200 and json.loads(r.body) else last_run[-1]
    # Wait until the thread is idle (a run may still be finishing).
    for _ in range(600):
        r = await client.request("GET", f"/threads/{thread_id}")
        if r.status == 200 and json.loads(r.body).get("status") == "idle":
            break
        await asyncio.sleep(0.1)
    client.close()
    progress(f"{srv.kind}:   built {created} runs (~{created * per_run} events) in {build_s:.1f} s; replaying from '-'")
    marker = f'"run_done","run_id":"{newest}"'.encode()
    counter = SSECounter(marker)
    conn = await Conn.open(HOST, srv.port)
    fut = conn.send("GET", f"/threads/{thread_id}/stream", None, {"accept": "text/event-stream", "last-event-id": "-"}, sink=counter)
    t_sent = conn._resp.t_sent  # noqa: SLF001
    deadline = now() + 120
    while not counter.seen_marker and now() < deadline and not fut.done():
        await asyncio.sleep(0.002)
    t_done = counter.t_marker or now()
    conn.abort()
    if not counter.seen_marker:
        errors.add("replay did not reach the last run's end", f"{counter.count} events in 120 s")
    elapsed = t_done - t_sent
    res["replay"] = {
        "runs": created, "events_per_run": per_run, "build_seconds": build_s,
        "build_runs_per_s": created / build_s if build_s else None,
        "events": counter.count, "seconds": elapsed, "events_per_s": counter.count / elapsed if elapsed else None,
        "ttfe": (counter.t_first_event - t_sent) if counter.t_first_event else None,
        "capped": created * per_run < target,
    }
    rr = res["replay"]
    progress(f"{srv.kind}:   replayed {rr['events']} events in {elapsed:.2f} s: {rr['events_per_s']:.0f} events/s")


def scenario_eventlog(p: dict) -> dict[str, Any]:
    out = {}
    for durability in ("full", "relaxed", "fast"):
        progress(f"ours: event log micro-benchmark, durability={durability}, {p['eventlog_events']} events, 8 tasks, batches of 4")
        cp = subprocess.run([str(OURS_PY), str(HERE / "bench_eventlog.py"), "--durability", durability,
                             "--events", str(p["eventlog_events"]), "--tasks", "8", "--batch", "4"],
                            capture_output=True, text=True, timeout=600)
        if cp.returncode != 0:
            progress(f"event log benchmark failed: {cp.stderr[-2000:]}")
            out[durability] = None
            continue
        out[durability] = json.loads(cp.stdout.strip().splitlines()[-1])
        r = out[durability]
        progress(f"ours:   {r['appends_per_s']:.0f} appends/s ({r['events_per_s']:.0f} events/s, {r['commits']} commits)")
    return out


# -- driving one server ---------------------------------------------------------------------

async def bench_server(kind: str, p: dict, args, workdir: Path) -> dict[str, Any]:
    res: dict[str, Any] = {}
    errors = Errors()
    srv = Server(kind, workdir, args.durability, args.workers)
    progress(f"{kind}: starting on port {srv.port}")
    try:
        await srv.start()
        progress(f"{kind}: answered /ok after {srv.startup_s:.2f} s (pid {srv.pid})")
        res["startup_s"] = srv.startup_s
        await asyncio.sleep(2.0)
        res["idle_rss"] = srv.rss()
        progress(f"{kind}: idle RSS {res['idle_rss']['VmRSS'] / 1024:.1f} MB over {res['idle_rss']['procs']} process(es)")
        if args.profile and kind == "ours":
            srv.start_profiler(BENCH / "profile-ours.txt")
            progress("ours: py-spy recording to .bench/profile-ours.txt (collapsed stacks)")
        wanted = args.only or SCENARIOS
        for name, fn in (("stateless", scenario_stateless), ("rss", scenario_rss), ("tokens", scenario_tokens),
                         ("fanout", scenario_fanout), ("replay", scenario_replay), ("v2", scenario_v2)):
            if name not in wanted:
                continue
            before = errors.total()
            try:
                await fn(srv, p, res, errors)
            except (KeyboardInterrupt, asyncio.CancelledError):
                raise
            except Exception as exc:  # noqa: BLE001 - one scenario failing must not hide the others
                errors.add(f"{name} crashed: {type(exc).__name__}", repr(exc))
                progress(f"{kind}: scenario {name} failed: {exc!r}")
            if errors.total() > before:
                progress(f"{kind}: errors so far: {errors.summary()}")
            if srv.proc is None or srv.proc.poll() is not None:
                errors.add("server died", f"during {name}")
                progress(f"{kind}: server died during {name}; see {srv.log_path}")
                break
        res["final_rss"] = srv.rss()
        res["server_cpu_s"] = srv.cpu()
    finally:
        srv.stop()
        progress(f"{kind}: stopped")
    res["errors"] = errors.counts
    res["error_summary"] = errors.summary()
    return res


# -- the table --------------------------------------------------------------------------------

def ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.1f}"


def num(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def get(d: dict | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def build_table(results: dict[str, dict], p: dict, args) -> str:
    ours, ref = results.get("ours"), results.get("ref")
    rows: list[tuple[str, str, str, str, str, str, str]] = []

    def row(label: str, o: float | None, r: float | None, better: str, fmt: Callable[[float | None], str] = num,
            target: str = "", met: bool | None = None, o_note: str = "", r_note: str = "") -> None:
        ratio = "-"
        if better != "(info)" and isinstance(o, (int, float)) and isinstance(r, (int, float)) and r:
            ratio = f"{o / r:.3g}x"
        ocell = fmt(o) + (f" {o_note}" if o_note else "") if ours is not None else "(not run)"
        rcell = ("n/a" if r == "n/a" else fmt(r) + (f" {r_note}" if r_note else "")) if ref is not None or r == "n/a" else "(not run)"
        verdict = "" if met is None else ("yes" if met else "**NO**")
        rows.append((label, ocell, rcell, ratio, better, target, verdict))

    def ok(v: float | None, cond: Callable[[float], bool]) -> bool | None:
        return None if v is None else cond(v)

    row("start-up: process start to first 200 on /ok (s)", get(ours, "startup_s"), get(ref, "startup_s"), "lower", lambda v: num(v, 2))
    io = get(ours, "idle_rss", "VmRSS")
    ir = get(ref, "idle_rss", "VmRSS")
    row("idle RSS after start-up (MB, process tree)", io and io / 1024, ir and ir / 1024, "lower",
        target="<= 50 MB", met=ok(io, lambda v: v / 1024 <= 50))

    for c in p["levels"]:
        o, r = get(ours, f"stateless_{c}"), get(ref, f"stateless_{c}")
        rn = f"({get(r, 'runs')} runs, {p['level_seconds']:.0f} s cap)" if get(r, "capped_by_time") else ""
        on = f"({get(o, 'runs')} runs)" if o else ""
        target, met = "", None
        if c >= 8:
            target = ">= 3x ref"
            if get(o, "runs_per_s") is not None and get(r, "runs_per_s"):
                met = o["runs_per_s"] >= 3 * r["runs_per_s"]
        row(f"stateless agent runs/s, {c} client(s)", get(o, "runs_per_s"), get(r, "runs_per_s"), "higher",
            target=target, met=met, o_note=on, r_note=rn)
        t_target = "< 10 ms" if c == 1 else ""
        row(f"  time to first event p50 (ms), {c} client(s)", get(o, "ttfe_p50"), get(r, "ttfe_p50"), "lower", ms,
            target=t_target, met=ok(get(o, "ttfe_p50"), lambda v: v < 0.010) if c == 1 else None)
        row(f"  time to first event p99 (ms), {c} client(s)", get(o, "ttfe_p99"), get(r, "ttfe_p99"), "lower", ms,
            target=t_target, met=ok(get(o, "ttfe_p99"), lambda v: v < 0.010) if c == 1 else None)
        row(f"  time to end p50 (ms), {c} client(s)", get(o, "tte_p50"), get(r, "tte_p50"), "lower", ms)
        row(f"  time to end p99 (ms), {c} client(s)", get(o, "tte_p99"), get(r, "tte_p99"), "lower", ms)
        row(f"  server CPU per run (ms), {c} client(s)", get(o, "server_cpu_ms_per_run"), get(r, "server_cpu_ms_per_run"), "lower")
        row(f"    of which the server process, without graph workers (ms), {c} client(s)", get(o, "main_cpu_ms_per_run"), get(r, "main_cpu_ms_per_run"), "lower")
        row(f"  load generator CPU (% of one core), {c} client(s)", get(o, "client_cpu_pct"), get(r, "client_cpu_pct"), "(info)", lambda v: num(v, 0))

    o, r = get(ours, "tokens"), get(ref, "tokens")
    row("token streaming, llm messages-tuple, 1 client (events/s)", get(o, "events_per_s"), get(r, "events_per_s"), "higher",
        o_note=f"({get(o, 'runs')} runs x {num(get(o, 'events_per_run'))} ev)" if o else "",
        r_note=f"({get(r, 'runs')} runs x {num(get(r, 'events_per_run'))} ev)" if r else "")

    o, r = get(ours, "fanout"), get(ref, "fanout")
    row(f"fan-out: deliveries received / expected ({p['fan_subs']} subs x events of {p['fan_runs']} runs)",
        get(o, "deliveries"), get(r, "deliveries"), "higher",
        o_note=f"/ {get(o, 'expected')}" if o else "", r_note=f"/ {get(r, 'expected')}" if r else "",
        met=None if not o else o["deliveries"] == o["expected"] and o["complete_subs"] == o["subscribers"],
        target="all")
    row("fan-out: delivery lag p50 (ms, vs first subscriber)", get(o, "lag_p50"), get(r, "lag_p50"), "lower", ms)
    row("fan-out: delivery lag p99 (ms, vs first subscriber)", get(o, "lag_p99"), get(r, "lag_p99"), "lower", ms,
        target="< 50 ms", met=ok(get(o, "lag_p99"), lambda v: v < 0.050))
    row("fan-out: delivery lag max (ms, vs first subscriber)", get(o, "lag_max"), get(r, "lag_max"), "lower", ms)
    row("fan-out: time from creating the runs to the last delivery (s)", get(o, "seconds"), get(r, "seconds"), "lower", lambda v: num(v, 2))
    row("fan-out: load generator CPU (% of one core)", get(o, "client_cpu_pct"), get(r, "client_cpu_pct"), "(info)", lambda v: num(v, 0))
    row("fan-out: event age p50 (ms, arrival - id timestamp)", get(o, "age_p50_ms"), get(r, "age_p50_ms"), "lower")
    row("fan-out: event age p99 (ms, arrival - id timestamp)", get(o, "age_p99_ms"), get(r, "age_p99_ms"), "lower")

    o, r = get(ours, "replay"), get(ref, "replay")
    row("replay from '-' of one thread (events/s)", get(o, "events_per_s"), get(r, "events_per_s"), "higher",
        target=">= 50,000", met=ok(get(o, "events_per_s"), lambda v: v >= 50_000),
        o_note=f"({num(get(o, 'events'))} events)" if o else "", r_note=f"({num(get(r, 'events'))} events)" if r else "")
    row("  building that thread: llm runs/s on one thread (runs/wait)", get(o, "build_runs_per_s"), get(r, "build_runs_per_s"), "higher",
        o_note=f"({get(o, 'runs')} runs)" if o else "", r_note=f"({get(r, 'runs')} runs{', time cap' if get(r, 'capped') else ''})" if r else "")

    def rss_at(res: dict | None) -> tuple[float | None, float | None, int | None, int | None, float | None]:
        s = get(res, "rss_runs", "samples")
        if not s or len(s) < 2:
            return None, None, None, None, None
        first_after = s[1]
        last = s[-1]
        return last[1] / 1024, (last[1] - first_after[1]) / 1024, last[0], first_after[0], (last[2] - first_after[2]) / 1024

    o_rss, o_growth, o_runs, o_from, o_anon = rss_at(ours)
    r_rss, r_growth, r_runs, r_from, r_anon = rss_at(ref)
    row(f"RSS after {p['rss_runs']:,} stateless runs at 8 clients (MB)", o_rss, r_rss, "lower",
        o_note=f"(after {o_runs} runs)" if o_runs else "", r_note=f"(after {r_runs} runs{', time cap' if get(ref, 'rss_runs', 'capped_by_time') else ''})" if r_runs else "")
    row("  RSS growth from the first sample to the last (MB)", o_growth, r_growth, "lower",
        target="flat (< 5 MB)", met=ok(o_growth, lambda v: v < 5),
        o_note=f"(runs {o_from}..{o_runs})" if o_runs else "", r_note=f"(runs {r_from}..{r_runs})" if r_runs else "")
    row("  anonymous RSS growth, same interval (MB; excludes mapped files such as LMDB's)", o_anon, r_anon, "lower",
        target="flat (< 5 MB)", met=ok(o_anon, lambda v: v < 5))

    for name in ("classic", "v2"):
        o, r = get(ours, "v2", name), get(ref, "v2", name)
        row(f"{name} stream of one run's {V2_EVENTS} custom events: server CPU per event (us)", get(o, "cpu_us_per_event"), get(r, "cpu_us_per_event"), "lower", lambda v: num(v, 0))
        row(f"  {name}: events/s to one client", get(o, "events_per_s"), get(r, "events_per_s"), "higher", lambda v: num(v, 0))

    ceiling = results.get("ceiling")
    if ceiling:
        best = max((get(ours, f"stateless_{c}", "runs_per_s") or 0) for c in p["levels"])
        share = best / ceiling["runs_per_s"] if ceiling.get("runs_per_s") else None
        rows.append((f"graph-alone ceiling: agent graph by astream, {ceiling['processes']} process(es) (runs/s)", num(ceiling["runs_per_s"]), "n/a", "-", "(info)", "", ""))
        rows.append(("  our best stateless runs/s as a share of that ceiling", f"{100 * share:.0f} %" if share is not None else "-", "n/a", "-", "higher", ">= 70 %",
                     "" if share is None else ("yes" if share >= 0.7 else "**NO**")))

    el = results.get("eventlog") or {}
    for d in ("full", "relaxed", "fast"):
        v = get(el, d)
        rows.append((f"event log appends/s, durability={d} (8 tasks x batches of 4 events)",
                     f"{num(v['appends_per_s'])} ({num(v['events_per_s'])} ev/s)" if v else ("(not run)" if not el else "failed"),
                     "n/a", "-", "higher", "", ""))
    errs_o = get(ours, "error_summary")
    errs_r = get(ref, "error_summary")
    rows.append(("errors during the run", (errs_o or "none") if ours else "(not run)", (errs_r or "none") if ref else "(not run)", "-", "-", "none",
                 "" if ours is None else ("yes" if not errs_o else "**NO**")))

    head = ("figure", "ours (trioserver)", "ref (langgraph dev)", "ours/ref", "better", "target (ours)", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
    return "\n".join(lines)


def notes(results: dict, p: dict, args) -> str:
    ours, ref = results.get("ours") or {}, results.get("ref") or {}
    ref_version = results.get("ref_version")
    lines = [
        "",
        "Notes:",
        "- ours/ref is a plain ratio of the two figures; the `better` column says whether higher or lower is better for that figure.",
        f"- Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}. Load generator: one separate "
        f"process ({results.get('loop', 'asyncio')} loop, raw HTTP/1.1 client on keep-alive connections), driving one server at a time; "
        "each server is started fresh, measured, then stopped.",
        f"- ours: `trioserver serve --durability {args.durability} --log-level warning` at {results.get('commit', '?')}, on a fresh data dir."
        + (f" ref: `langgraph dev --no-reload --server-log-level WARNING` ({ref_version}), default --n-jobs-per-worker (10), "
           "in a scratch directory with a copy of tests/graphs/langgraph.json whose paths point at the same graph files." if ref_version else ""),
        f"- Stateless: `POST /runs/stream` agent graph, stream_mode=updates (3 events per run); each level runs until {p['level_runs']} runs "
        f"were started or {p['level_seconds']:.0f} s passed, then waits for runs in flight. Time to first event = request sent -> first body "
        "byte (the metadata event); time to end = request sent -> end of the chunked body.",
        "- Token streaming: stateless llm runs, stream_mode=messages-tuple, back to back on one connection; events/s = SSE events received / wall time.",
        f"- Fan-out: {p['fan_subs']} `GET /threads/{{id}}/stream` subscribers (default run_modes, no Last-Event-ID) connected first, then "
        f"{p['fan_runs']} agent runs created with `POST /threads/{{id}}/runs` (multitask_strategy=enqueue, stream_resumable=true). Each "
        "received byte is time-stamped in the client's receive callback and parsed afterwards. Lag = a subscriber's arrival time of an event "
        "(matched by its SSE id) minus the earliest arrival of that event at any subscriber; it includes the load generator's own time to "
        "service 500 sockets. Age = arrival wall-clock time minus the millisecond timestamp in the event id (the server's clock at append), "
        "so it includes commit and queueing time.",
        "- Replay: one thread built with llm runs (messages-tuple, stream_resumable=true, enqueue) through `POST /threads/{id}/runs/wait` "
        "from two clients, until the thread holds the target number of events or the build time cap passed (then a smaller thread is "
        "replayed, the row says how many events; events/s stays comparable). Then `GET /threads/{id}/stream` with `Last-Event-ID: -`, timed from "
        "the request to the arrival of the last run's run_done event.",
        "- RSS: VmRSS summed over the server's process tree (/proc). Ours includes LMDB pages mapped from the data file (RssFile), "
        "shown as anon+file below. Growth is from the first sample (after the first batch of runs) to the last.",
        "- Event log: scripts/bench_eventlog.py, EventLog.append of 4 small events per call from 8 concurrent trio tasks on 8 thread "
        "ids, waiting for the commit each time (the Store groups queued appends into one transaction). The reference has no equivalent.",
    ]
    for kind, res in (("ours", ours), ("ref", ref)):
        if not res:
            continue
        idle = res.get("idle_rss") or {}
        final = res.get("final_rss") or {}
        lines.append(f"- {kind}: idle RSS anon {idle.get('RssAnon', 0) / 1024:.1f} MB + file {idle.get('RssFile', 0) / 1024:.1f} MB "
                     f"({idle.get('procs')} process(es)); at the end anon {final.get('RssAnon', 0) / 1024:.1f} MB + file "
                     f"{final.get('RssFile', 0) / 1024:.1f} MB; server CPU over the whole run {num(res.get('server_cpu_s'))} s.")
        samples = get(res, "rss_runs", "samples")
        if samples:
            lines.append(f"- {kind}: RSS samples (runs: total MB = anon + file): "
                         + ", ".join(f"{s[0]}: {s[1] / 1024:.1f} = {s[2] / 1024:.1f} + {s[3] / 1024:.1f}" for s in samples))
        if res.get("error_summary"):
            lines.append(f"- {kind}: errors: {res['error_summary']}")
    el = results.get("eventlog") or {}
    for d, v in el.items():
        if v:
            lines.append(f"- event log {d}: {v['appends']} appends ({v['events']} events) in {v['seconds']:.2f} s, {v['commits']} commits, "
                         f"append latency p50 {v['append_p50_ms']:.2f} ms p99 {v['append_p99_ms']:.2f} ms.")
    if results.get("auth"):
        from bench_auth import table as auth_table

        lines += ["", "Auth (scripts/bench_auth.py: same server, same load; cost per request = read latency minus no auth's):", "", auth_table(results["auth"])]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------

def raise_nofile(want: int = 8192) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def summarize_profile(path: Path, top: int = 25) -> str:
    """Self and inclusive sample shares of the hottest frames in py-spy's collapsed stacks."""
    if not path.exists():
        return "(no profile written)"
    self_counts: dict[str, int] = {}
    incl: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        if frames:
            self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n
    out = [f"py-spy: {total} samples", "top self:"]
    for f, n in sorted(self_counts.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    out.append("top inclusive:")
    for f, n in sorted(incl.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {100 * n / total:5.1f}%  {f}")
    return "\n".join(out)


async def amain(args) -> dict:
    p = dict(QUICK if args.quick else FULL)
    results: dict[str, Any] = {"params": {k: v for k, v in p.items()}}
    loop = asyncio.get_running_loop()
    # Ctrl-C, SIGTERM, SIGHUP: cancel everything; `finally` blocks stop the servers.
    main_task = asyncio.current_task()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, main_task.cancel)
    results["loop"] = type(loop).__module__.split(".")[0] + " " + type(loop).__name__
    workdir = BENCH / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    kinds = ["ours"] if args.ours_only else ["ref"] if args.ref_only else ["ours", "ref"]
    if "ref" in kinds:
        cp = subprocess.run([str(BENCH / "ref-venv" / "bin" / "python"), "-c",
                             "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
                             "('langgraph-api','langgraph-runtime-inmem','langgraph')))"], capture_output=True, text=True)
        results["ref_version"] = cp.stdout.strip() or "?"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "trioserver"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        results["commit"] = (head or "?") + (" + uncommitted changes under trioserver/" if dirty else "")
    except OSError:
        results["commit"] = "?"
    wanted = args.only or SCENARIOS
    server_scenarios = [s for s in wanted if s not in ("eventlog", "binary", "auth", "ceiling")]
    for kind in kinds:
        if server_scenarios or not args.only:
            results[kind] = await bench_server(kind, p, args, workdir)
    if "eventlog" in wanted and "ours" in kinds:
        results["eventlog"] = await asyncio.to_thread(scenario_eventlog, p)
    if "binary" in wanted and "ours" in kinds:
        results["binary"] = await asyncio.to_thread(scenario_binary, args)
    if "ceiling" in wanted and "ours" in kinds:
        results["ceiling"] = await asyncio.to_thread(scenario_ceiling, p, 1 + args.workers)
    if "auth" in wanted and "ours" in kinds:
        results["auth"] = await asyncio.to_thread(scenario_auth, args)
    return results


def scenario_auth(args) -> dict[str, Any] | None:
    """Auth's cost per request: no auth, the API key, custom auth (scripts/bench_auth.py)."""
    progress("auth: the same load with no auth, an API key and custom auth (scripts/bench_auth.py)")
    cmd = [str(OURS_PY), str(HERE / "bench_auth.py"), "--workers", str(getattr(args, "workers", 1))] + (["--quick"] if args.quick else [])
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if cp.returncode != 0:
        progress(f"auth benchmark failed: {cp.stderr[-2000:]}")
        return None
    return json.loads(cp.stdout.strip().splitlines()[-1])


def scenario_binary(args) -> dict[str, Any] | None:
    """The one-file binary's start-up and idle RSS next to the venv's (scripts/bench_binary.py)."""
    from bench_binary import measure_all

    binary = Path(args.binary)
    if not binary.is_file():
        progress(f"binary: no {binary} (scripts/build-binary makes it); skipped")
        return None
    progress(f"binary: start-up and idle RSS of {binary} next to the venv's")
    return measure_all({"venv": [str(OURS_BIN)], "binary": [str(binary.resolve())]}, runs=3 if args.quick else 7,
                       cache_root=BENCH / "binary-cache")


def main() -> int:
    parser = argparse.ArgumentParser(description="trioserver vs the reference server (langgraph dev)")
    parser.add_argument("--ours-only", action="store_true", help="benchmark trioserver alone (no reference server)")
    parser.add_argument("--ref-only", action="store_true", help="benchmark the reference server alone")
    parser.add_argument("--quick", action="store_true", help="short runs (a minute or two), e.g. for profiling")
    parser.add_argument("--only", type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
                        help=f"comma-separated subset of: {','.join(SCENARIOS)}")
    parser.add_argument("--durability", default="full", choices=("full", "relaxed", "fast"), help="our server's --durability")
    parser.add_argument("--workers", type=int, default=1, help="our server's --workers (graph worker processes)")
    parser.add_argument("--binary", default=str(ROOT / "dist" / "trioserver"), help="the one-file binary for the 'binary' scenario")
    parser.add_argument("--profile", action="store_true", help="record our server with py-spy (.bench/profile-ours.txt)")
    parser.add_argument("--output", default=None,
                        help="where to write the table (default .bench/results.md for a full run of both servers, "
                             "else .bench/results-partial.md)")
    args = parser.parse_args()
    if args.only:
        bad = [s for s in args.only if s not in SCENARIOS]
        if bad:
            parser.error(f"unknown scenario(s) {bad}; choose from {SCENARIOS}")
    if args.profile and not PYSPY.exists():
        parser.error("--profile needs py-spy in .bench/tools-venv (scripts/bench installs it)")
    if args.output is None:
        partial = args.quick or args.only or args.ours_only or args.ref_only
        args.output = str(BENCH / ("results-partial.md" if partial else "results.md"))
    nofile = raise_nofile()
    p = QUICK if args.quick else FULL
    if nofile < p["fan_subs"] + 200:
        progress(f"warning: open-file limit {nofile} is low for {p['fan_subs']} subscribers")
    try:
        import uvloop  # type: ignore

        uvloop.install()
    except ImportError:
        pass

    started = time.monotonic()
    try:
        results = asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress("interrupted; stopping servers")
        return 130
    finally:
        for srv in list(RUNNING):
            srv.stop()
    results["wall_seconds"] = time.monotonic() - started
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.with_suffix(".json")).write_text(json.dumps(results, indent=1, default=str))  # first: a table bug loses no figures
    table = build_table(results, p, args)
    mode = ("quick" if args.quick else "full") + (", ours only" if args.ours_only else ", ref only" if args.ref_only else "")
    title = f"# trioserver vs reference: benchmark ({mode}, {time.strftime('%Y-%m-%d %H:%M:%S')}, {results['wall_seconds']:.0f} s)"
    text = f"{title}\n\n{table}\n{notes(results, p, args)}\n"
    if results.get("binary"):
        from bench_binary import table as binary_table

        text += f"\n## One-file binary vs venv (bundled examples)\n\n{binary_table(results['binary'])}\n"
    print(text)
    out.write_text(text)
    progress(f"wrote {out} and {out.with_suffix('.json')}")
    if args.profile:
        summary = summarize_profile(BENCH / "profile-ours.txt")
        (BENCH / "profile-ours-summary.txt").write_text(summary + "\n")
        print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
