"""`trioserver export` into a real Aegra on a real PostgreSQL, and `trioserver import` back.

The source data is made the way users make it: our server, driven by the official SDK.
After the export, Aegra (from PyPI, serving the same graph files) must show every
thread's state and whole history as our server did, continue threads with new runs and
resume interrupted ones. Skipped, with the reason, where PostgreSQL or a Python >= 3.12
for Aegra cannot be had.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest
from export.harness import AegraProcess, Unavailable, aegra_python, postgres
from langgraph_sdk import get_client
from serverproc import ROOT, ServerProcess

pytest.importorskip("langgraph.checkpoint.postgres", reason="the [export] extra is not installed (pip install -e '.[test]')")


def trioserver(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trioserver.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def counts_line(output: str, prefix: str) -> dict[str, int]:
    """`prefix: 3 threads, 12 checkpoints, ...` from a command's output, as a dict."""
    line = next(line for line in output.splitlines() if line.startswith(prefix))
    return {name: int(n.replace(",", "")) for n, name in re.findall(r"([\d,]+) ([a-z ]+?)(?:,|$| in )", line[len(prefix):])}


# -- what the user had on trioserver -------------------------------------------------------


@attrs.define
class Seeded:
    threads: dict[str, str] = attrs.field(factory=dict)  # role -> thread id
    assistant_id: str = ""
    cron_ids: list[str] = attrs.field(factory=list)
    before: dict[str, dict[str, Any]] = attrs.field(factory=dict)  # thread id -> what our server showed
    assistant: dict[str, Any] = attrs.field(factory=dict)
    versions: list[dict[str, Any]] = attrs.field(factory=list)


async def seed(url: str) -> Seeded:
    """Threads of every kind the export must carry, then what our server shows of them."""
    client = get_client(url=url, api_key=None)
    s = Seeded()
    try:
        chat = await client.threads.create(metadata={"user": "ann"})
        for said in ("hello", "how are you", "bye"):
            await client.runs.wait(chat["thread_id"], "chat", input={"messages": [{"role": "human", "content": said}]})
        s.threads["chat"] = chat["thread_id"]

        stopped = await client.threads.create()  # interrupt_before: stopped between two nodes
        await client.runs.wait(stopped["thread_id"], "agent", input={"topic": "owls"}, interrupt_before=["generate_joke"])
        s.threads["interrupt_before"] = stopped["thread_id"]

        asking = await client.threads.create()  # interrupt() inside a node: a pending task interrupt
        await client.runs.wait(asking["thread_id"], "asking", input={"question": "ship it?"})
        s.threads["asking"] = asking["thread_id"]

        sub = await client.threads.create()  # checkpoints in a subgraph namespace
        await client.runs.wait(sub["thread_id"], "subgraph", input={"foo": "x"})
        s.threads["subgraph"] = sub["thread_id"]

        assistant = await client.assistants.create("agent", config={"configurable": {"tone": "dry"}}, name="dry jokes", metadata={"team": "a"})
        await client.assistants.update(assistant["assistant_id"], config={"configurable": {"tone": "wry"}})
        await client.assistants.update(assistant["assistant_id"], metadata={"team": "b"}, name="wry jokes")
        s.assistant_id = assistant["assistant_id"]
        custom = await client.threads.create()
        await client.runs.wait(custom["thread_id"], s.assistant_id, input={"topic": "bees"})
        s.threads["custom"] = custom["thread_id"]

        memory = await client.threads.create()
        await client.runs.wait(memory["thread_id"], "memory", input={"user": "ann", "fact": "likes tea"})
        await client.runs.wait(memory["thread_id"], "memory", input={"user": "ann", "fact": "hates rain"})
        s.threads["memory"] = memory["thread_id"]
        await client.store.put_item(["docs", "guides"], "intro", {"text": "read me"})

        unserved = await client.threads.create()  # a graph Aegra is not configured to serve
        await client.runs.wait(unserved["thread_id"], "slow", input={"delay": 0})
        s.threads["unserved"] = unserved["thread_id"]

        yearly = "0 0 1 1 *"  # never fires during the test, here or there
        s.cron_ids.append((await client.crons.create_for_thread(chat["thread_id"], "chat", schedule=yearly, input={"messages": []}))["cron_id"])
        s.cron_ids.append((await client.crons.create(s.assistant_id, schedule=yearly, input={"topic": "cron"}))["cron_id"])

        for thread_id in s.threads.values():
            s.before[thread_id] = await snapshot(client, thread_id)
        s.assistant = await client.assistants.get(s.assistant_id)
        s.versions = await client.assistants.get_versions(s.assistant_id)
    finally:
        await client.http.client.aclose()
    return s


async def snapshot(client, thread_id: str) -> dict[str, Any]:
    return {
        "thread": await client.threads.get(thread_id),
        "state": await client.threads.get_state(thread_id),
        "history": await client.threads.get_history(thread_id, limit=1000),
        "runs": await client.runs.list(thread_id, limit=100),
    }


# -- comparing what two servers show -------------------------------------------------------


def _task(task: dict[str, Any]) -> dict[str, Any]:
    return {"id": task["id"], "name": task["name"], "interrupts": task.get("interrupts") or []}


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """What both servers must agree on for a checkpoint (their JSON shapes differ in
    incidental ways, e.g. how `created_at` is spelled)."""
    checkpoint = state.get("checkpoint") or {}
    parent = state.get("parent_checkpoint") or {}
    return {
        "values": state["values"],
        "next": state["next"],
        "checkpoint_id": checkpoint.get("checkpoint_id"),
        "checkpoint_ns": checkpoint.get("checkpoint_ns", ""),
        "parent_checkpoint_id": parent.get("checkpoint_id"),
        "metadata": state["metadata"],
        "tasks": [_task(t) for t in state["tasks"]],
        "created_at": _instant(state.get("created_at")),
    }


def _instant(value: str | None) -> float | None:
    import datetime as dt

    return None if value is None else dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def shows_the_same(url: str, seeded: Seeded, roles: list[str]) -> None:
    client = get_client(url=url, api_key=None)
    try:
        for role in roles:
            thread_id = seeded.threads[role]
            before = seeded.before[thread_id]
            now = await snapshot(client, thread_id)
            assert now["thread"]["status"] == before["thread"]["status"], role
            assert now["thread"]["metadata"] == before["thread"]["metadata"], role
            assert _instant(now["thread"]["created_at"]) == _instant(before["thread"]["created_at"]), role
            assert comparable(now["state"]) == comparable(before["state"]), role
            assert len(now["history"]) == len(before["history"]) > 1, role
            for mine, theirs in zip(before["history"], now["history"]):
                assert comparable(theirs) == comparable(mine), role
            assert [(r["run_id"], r["status"]) for r in now["runs"]] == [(r["run_id"], r["status"]) for r in before["runs"]], role
    finally:
        await client.http.client.aclose()


# -- the deployment, moved ---------------------------------------------------------------


@attrs.define
class Moved:
    seeded: Seeded
    database_url: str
    aegra: AegraProcess
    data_dir: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    export_seconds: float


@pytest.fixture(scope="module")
def moved(tmp_path_factory) -> Moved:
    workdir = tmp_path_factory.mktemp("export")
    try:
        python = aegra_python()
        pg = postgres()
        database_url = pg.__enter__()
    except Unavailable as exc:
        pytest.skip(str(exc))
    aegra = AegraProcess(python, database_url, workdir / "aegra.log")
    try:
        aegra.start()  # its first start creates its tables and the default assistants
        data_dir = workdir / "data"
        ours = ServerProcess(data_dir).start()
        try:
            seeded = asyncio.run(seed(ours.url))
            refused = trioserver("export", "--data-dir", str(data_dir), "--to-postgres", database_url)
            assert refused.returncode == 1 and "in use by process" in refused.stderr, refused
        finally:
            ours.stop()
        started = time.monotonic()
        first = trioserver("export", "--data-dir", str(data_dir), "--to-postgres", database_url)
        export_seconds = time.monotonic() - started
        assert first.returncode == 0, first.stdout + first.stderr
        second = trioserver("export", "--data-dir", str(data_dir), "--to-postgres", database_url)
        assert second.returncode == 0, second.stdout + second.stderr
        yield Moved(seeded, database_url, aegra, data_dir, first, second, export_seconds)
    finally:
        aegra.stop()
        pg.__exit__(None, None, None)


def test_dry_run_counts_and_writes_nothing(moved):
    dry = trioserver("export", "--data-dir", str(moved.data_dir), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    planned = counts_line(dry.stdout, f"{moved.data_dir}: ")
    assert planned["threads"] == len(moved.seeded.threads)
    assert planned["checkpoints"] > 20 and planned["writes"] > 0 and planned["store items"] == 3
    assert planned["crons"] == 2 and planned["assistants"] >= 2
    assert "nothing written" in dry.stdout


def test_export_moves_everything_and_verifies(moved):
    out = moved.first.stdout
    planned = counts_line(out, f"{moved.data_dir}: ")
    done = counts_line(out, "moved ")
    for name in ("threads", "checkpoints", "writes", "runs", "crons", "store items"):
        assert done[name] == planned[name], (name, out)
    assert re.search(r"verified: [\d,]+ threads, [\d,]+ checkpoints identical", out), out
    # The graph Aegra does not serve is reported, not silently dropped.
    assert "graph 'slow' is not served by the target (1 thread(s)" in out
    assert "event logs" in out  # what cannot move is said
    print(f"\nexport: {done['threads']} threads, {done['checkpoints']} checkpoints in {moved.export_seconds:.1f} s (process included)")


def test_second_export_changes_nothing(moved):
    assert counts_line(moved.second.stdout, "target now holds: ") == counts_line(moved.first.stdout, "target now holds: ")
    assert "verified:" in moved.second.stdout


def test_aegra_shows_the_same_state_and_history(moved):
    roles = ["chat", "interrupt_before", "asking", "subgraph", "custom", "memory"]
    asyncio.run(shows_the_same(moved.aegra.url, moved.seeded, roles))


def test_assistant_versions_and_crons_arrive(moved):
    async def check() -> None:
        client = get_client(url=moved.aegra.url, api_key=None)
        try:
            assistant = await client.assistants.get(moved.seeded.assistant_id)
            for key in ("name", "graph_id", "version", "config", "metadata"):
                assert assistant[key] == moved.seeded.assistant[key], key
            versions = await client.assistants.get_versions(moved.seeded.assistant_id)
            assert sorted((v["version"], v["name"], v["config"]["configurable"]["tone"]) for v in versions) == sorted(
                (v["version"], v["name"], v["config"]["configurable"]["tone"]) for v in moved.seeded.versions
            )
            assert len(versions) == 3
            crons = await client.crons.search(limit=100)
            assert sorted(c["cron_id"] for c in crons) == sorted(moved.seeded.cron_ids)
        finally:
            await client.http.client.aclose()

    asyncio.run(check())


def test_threads_continue_on_aegra(moved):
    seeded = moved.seeded

    async def check() -> None:
        client = get_client(url=moved.aegra.url, api_key=None)
        try:
            chat = seeded.threads["chat"]
            await client.runs.wait(chat, "chat", input={"messages": [{"role": "human", "content": "again"}]})
            messages = (await client.threads.get_state(chat))["values"]["messages"]
            assert [m["content"] for m in messages] == [
                "hello", "You said: hello", "how are you", "You said: how are you", "bye", "You said: bye", "again", "You said: again",
            ]
            # interrupt(): resumed with a Command, as on our server.
            asking = seeded.threads["asking"]
            await client.runs.wait(asking, "asking", command={"resume": "yes"})
            state = await client.threads.get_state(asking)
            assert state["values"]["answer"] == "yes (confirmed)" and state["next"] == []
            # interrupt_before: Aegra resumes from the thread's latest checkpoint (it refuses a run with no input).
            stopped = seeded.threads["interrupt_before"]
            latest = (await client.threads.get_state(stopped))["checkpoint"]
            await client.runs.wait(stopped, "agent", input=None, checkpoint=latest)
            state = await client.threads.get_state(stopped)
            assert state["values"]["joke"] == "This is a joke about owls and cats" and state["next"] == []
            # The store items graphs wrote are where graphs look for them.
            memory = seeded.threads["memory"]
            await client.runs.wait(memory, "memory", input={"user": "ann"})
            assert (await client.threads.get_state(memory))["values"]["known"] == ["hates rain", "likes tea"]
        finally:
            await client.http.client.aclose()

    asyncio.run(check())


def test_export_again_after_threads_went_on(moved):
    """Re-running the export once threads have moved on in the target leaves their newer
    state alone: the same checkpoints are rewritten, the newer thread rows are kept."""
    again = trioserver("export", "--data-dir", str(moved.data_dir), "--to-postgres", moved.database_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "are newer on the target" in again.stdout

    async def check() -> None:
        client = get_client(url=moved.aegra.url, api_key=None)
        try:
            asking = await client.threads.get(moved.seeded.threads["asking"])
            assert asking["status"] == "idle"  # resumed there; not set back to 'interrupted'
            state = await client.threads.get_state(moved.seeded.threads["asking"])
            assert state["values"]["answer"] == "yes (confirmed)"
        finally:
            await client.http.client.aclose()

    asyncio.run(check())


def test_round_trip_with_import(moved, tmp_path):
    back = tmp_path / "back"
    imported = trioserver("import", "--from-postgres", moved.database_url, "--data-dir", str(back))
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "verified:" in imported.stdout, imported.stdout
    again = trioserver("import", "--from-postgres", moved.database_url, "--data-dir", str(back))
    assert counts_line(again.stdout, "data directory now holds: ") == counts_line(imported.stdout, "data directory now holds: ")

    async def compare(ours_url: str) -> None:
        aegra = get_client(url=moved.aegra.url, api_key=None)
        ours = get_client(url=ours_url, api_key=None)
        try:
            for role, thread_id in moved.seeded.threads.items():
                if role == "unserved":
                    continue
                there, here = await snapshot(aegra, thread_id), await snapshot(ours, thread_id)
                assert here["thread"]["status"] == there["thread"]["status"], role
                assert comparable(here["state"]) == comparable(there["state"]), role
                assert [comparable(h) for h in here["history"]] == [comparable(h) for h in there["history"]], role
            assistant = await ours.assistants.get(moved.seeded.assistant_id)
            assert assistant["version"] == moved.seeded.assistant["version"]
            assert len(await ours.assistants.get_versions(moved.seeded.assistant_id)) == 3
            assert (await ours.store.get_item(["docs", "guides"], "intro"))["value"] == {"text": "read me"}
            # And the imported threads go on here too.
            chat = moved.seeded.threads["chat"]
            await ours.runs.wait(chat, "chat", input={"messages": [{"role": "human", "content": "home"}]})
            assert (await ours.threads.get_state(chat))["values"]["messages"][-1]["content"] == "You said: home"
        finally:
            await aegra.http.client.aclose()
            await ours.http.client.aclose()

    server = ServerProcess(back).start()
    try:
        asyncio.run(compare(server.url))
    finally:
        server.stop()


def test_platform_target_through_the_api(tmp_path):
    """`--target platform` speaks the Agent Server API; trioserver serves that API too, so it
    stands in for a licensed LangGraph Platform here (no Postgres needed)."""

    async def seed_small(url: str) -> dict[str, Any]:
        client = get_client(url=url, api_key=None)
        try:
            stopped = await client.threads.create(metadata={"k": "v"})
            await client.runs.wait(stopped["thread_id"], "agent", input={"topic": "owls"}, interrupt_before=["generate_joke"])
            assistant = await client.assistants.create("agent", config={"configurable": {"tone": "dry"}}, name="dry")
            await client.assistants.update(assistant["assistant_id"], name="wry")
            await client.store.put_item(["docs"], "intro", {"text": "read me"})
            await client.crons.create(assistant["assistant_id"], schedule="0 0 1 1 *", input={"topic": "cron"})
            return {"thread": stopped["thread_id"], "state": await client.threads.get_state(stopped["thread_id"]), "assistant": assistant["assistant_id"]}
        finally:
            await client.http.client.aclose()

    source = ServerProcess(tmp_path / "source").start()
    try:
        seeded = asyncio.run(seed_small(source.url))
    finally:
        source.stop()
    target = ServerProcess(tmp_path / "target").start()
    try:
        for _ in range(2):  # the second run must not duplicate anything
            done = trioserver("export", "--data-dir", str(tmp_path / "source"), "--target", "platform", "--api", target.url)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "history, checkpoint ids" in done.stdout  # what does not move is said

        async def check() -> None:
            client = get_client(url=target.url, api_key=None)
            try:
                thread = await client.threads.get(seeded["thread"])
                assert thread["metadata"]["k"] == "v"
                state = await client.threads.get_state(seeded["thread"])
                assert state["values"] == seeded["state"]["values"] and state["next"] == ["generate_joke"]
                versions = await client.assistants.get_versions(seeded["assistant"])
                assert sorted(v["name"] for v in versions) == ["dry", "wry"]
                assert (await client.store.get_item(["docs"], "intro"))["value"] == {"text": "read me"}
                assert len(await client.crons.search()) == 1
                await client.runs.wait(seeded["thread"], "agent", input=None)  # and it goes on from there
                assert (await client.threads.get_state(seeded["thread"]))["values"]["joke"] == "This is a joke about owls and cats"
            finally:
                await client.http.client.aclose()

        asyncio.run(check())
    finally:
        target.stop()


def test_import_from_a_plain_checkpointer_database(moved, tmp_path):
    """A database written by langgraph-checkpoint-postgres alone (no Aegra tables): threads
    are rebuilt from their checkpoints."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    from trioserver.examples.joke import graph

    with psycopg.connect(moved.database_url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS plain")
        admin.execute("CREATE DATABASE plain")
    plain_url = moved.database_url.rsplit("/", 1)[0] + "/plain"
    thread_id = "5b1f4c36-7a8e-4a39-9c4e-0d1c2d3e4f50"
    with PostgresSaver.from_conn_string(plain_url) as saver:
        saver.setup()
        app = graph.copy(update={"checkpointer": saver})
        config = {"configurable": {"thread_id": thread_id}, "metadata": {"graph_id": "agent"}}
        app.invoke({"topic": "moths"}, config, interrupt_before=["generate_joke"])
        expected = [(s.config["configurable"]["checkpoint_id"], s.values, s.next) for s in app.get_state_history(config)]
    back = tmp_path / "plain-back"
    imported = trioserver("import", "--from-postgres", plain_url, "--data-dir", str(back))
    assert imported.returncode == 0 and "langgraph-checkpoint-postgres database" in imported.stdout, imported.stdout + imported.stderr
    assert "verified:" in imported.stdout

    async def compare(url: str) -> None:
        client = get_client(url=url, api_key=None)
        try:
            thread = await client.threads.get(thread_id)
            assert thread["status"] == "idle" and thread["metadata"]["graph_id"] == "agent"
            history = await client.threads.get_history(thread_id, limit=100)
            assert [(h["checkpoint"]["checkpoint_id"], h["values"], tuple(h["next"])) for h in history] == expected
        finally:
            await client.http.client.aclose()

    server = ServerProcess(back).start()
    try:
        asyncio.run(compare(server.url))
    finally:
        server.stop()
