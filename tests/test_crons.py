"""Crons: schedule arithmetic and the scheduler loop (in-process, on trio's MockClock), and
the API over HTTP against a real server."""

from __future__ import annotations

import datetime as dt
import functools
import uuid

import anyio
import pytest
import trio
import trio.testing

from trioserver.errors import Invalid
from trioserver.runtime.crons import (
    Cron,
    Crons,
    is_active,
    next_run,
    run_creator,
    run_payload,
    run_scheduler,
    validate_schedule,
    validate_timezone,
)
from trioserver.storage.env import Store

UTC = dt.UTC
AGENT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"  # the reference's id for graph "agent"
BASE = dt.datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


# -- schedules ---------------------------------------------------------------------------


def test_next_run():
    assert next_run("0 0 * * *", BASE) == dt.datetime(2026, 11, 27, tzinfo=UTC)
    # Read in the cron's timezone, answered in UTC: midnight in New York is 05:00 UTC in November.
    assert next_run("0 0 * * *", BASE, "America/New_York") == dt.datetime(2026, 11, 27, 5, tzinfo=UTC)
    assert next_run("*/5 * * * *", BASE) == BASE + dt.timedelta(minutes=5)  # strictly after
    assert next_run("* * * * * */10", BASE + dt.timedelta(seconds=1)) == BASE + dt.timedelta(seconds=10)  # seconds field


def test_validation():
    assert validate_schedule("*/5 * * * *") == "*/5 * * * *"
    for bad in ("", "nope", "61 * * * *", "* * *"):
        with pytest.raises(Invalid):
            validate_schedule(bad)
    assert validate_timezone("Europe/Paris") == "Europe/Paris"
    assert validate_timezone(None) is None
    for bad in ("Mars/Olympus", "", 5, "../etc/passwd"):
        with pytest.raises(Invalid):
            validate_timezone(bad)


def _cron(**kw) -> Cron:
    values = {
        "cron_id": str(uuid.uuid4()), "assistant_id": AGENT_ID, "thread_id": None, "schedule": "*/5 * * * *",
        "payload": {"assistant_id": AGENT_ID, "input": {"topic": "x"}}, "created_at": BASE.isoformat(), "updated_at": BASE.isoformat(),
        "next_run_date": next_run("*/5 * * * *", BASE).isoformat(), "on_run_completed": "delete",
    }
    values.update(kw)
    return Cron(**values)


def test_is_active_and_payload():
    assert is_active(_cron(), BASE)
    assert not is_active(_cron(enabled=False), BASE)
    assert not is_active(_cron(end_time=(BASE - dt.timedelta(seconds=1)).isoformat()), BASE)
    assert not is_active(_cron(end_time=(BASE + dt.timedelta(minutes=1)).isoformat()), BASE)  # next tick is after the end
    assert is_active(_cron(end_time=(BASE + dt.timedelta(minutes=5)).isoformat()), BASE)

    cron = _cron(metadata={"a": 1, "b": 1}, payload={"metadata": {"b": 2}, "context": {"k": 1}, "config": {"configurable": {"cron_id": "c"}}})
    payload = run_payload(cron)
    assert payload["metadata"] == {"a": 1, "b": 2}
    assert payload["config"] == {"configurable": {}}  # context and configurable may not be sent together
    assert "on_completion" not in payload
    assert cron.payload["config"] == {"configurable": {"cron_id": "c"}}  # the stored payload is untouched
    assert run_payload(_cron(on_run_completed="keep"))["on_completion"] == "keep"


# -- the scheduler, on a mock clock --------------------------------------------------------


def run_with_scheduler(tmp_path, body, *, fail: bool = False) -> list[tuple[float, str | None, dict, dict | None]]:
    """Run `body(crons, now)` next to a scheduler whose runs are recorded as (minutes, thread_id, payload, creator)."""
    made: list[tuple[float, str | None, dict, dict | None]] = []

    def now() -> dt.datetime:
        return BASE + dt.timedelta(seconds=trio.current_time())

    async def create_run(thread_id, payload, creator):
        made.append((trio.current_time() / 60, thread_id, payload, creator))
        if fail:
            raise Invalid("rejected")

    async def main():
        store = Store(str(tmp_path / "data"), durability="relaxed")  # not "fast": its once-a-second flush would wake the mock clock
        try:
            crons = Crons(store)
            async with trio.open_nursery() as nursery:
                await nursery.start(store.run_writer)
                await nursery.start(functools.partial(run_scheduler, crons, create_run, now=now))
                await body(crons, now)
                nursery.cancel_scope.cancel()
        finally:
            store.close()

    # The writer commits in a worker thread: a small real-time threshold lets it finish before time jumps.
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0.05))
    return made


def test_scheduler_fires_each_tick(tmp_path):
    async def body(crons, now):
        await crons.put(_cron(cron_id="00000000-0000-0000-0000-000000000001", metadata={"m": 1}))
        await crons.put(_cron(enabled=False))
        await trio.sleep(16 * 60)
        stored = crons.get("00000000-0000-0000-0000-000000000001")
        assert stored.next_run_date == (BASE + dt.timedelta(minutes=20)).isoformat()

    made = run_with_scheduler(tmp_path, body)
    assert [round(m, 3) for m, *_ in made] == [5, 10, 15]
    assert all(thread_id is None and payload["metadata"] == {"m": 1} and creator is None for _, thread_id, payload, creator in made)


def test_a_ticks_run_acts_for_the_crons_creator(tmp_path):
    """The creator reaches create_run beside the payload: what a client stored in the payload
    (the key that once carried it included) cannot change whom the run acts for."""
    alice = {"identity": "alice", "permissions": ["write"], "display_name": "Alice"}
    forged = {"__trioserver_cron_user__": {"identity": "bob", "permissions": ["admin"]}, "metadata": {"by": "client"}}
    assert run_creator(_cron(creator=alice, user_id="alice")) == alice
    assert run_creator(_cron(user_id="carol")) == {"identity": "carol"}
    assert run_creator(_cron()) is None
    assert run_creator(_cron(user_id="")) is None

    async def body(crons, now):
        await crons.put(_cron(thread_id="a", creator=alice, user_id="alice", payload=forged))
        await crons.put(_cron(thread_id="c", user_id="carol", payload=forged))
        await crons.put(_cron(thread_id="n", payload=forged))
        await trio.sleep(6 * 60)

    creators = {thread_id: creator for _, thread_id, _, creator in run_with_scheduler(tmp_path, body)}
    assert creators == {"a": alice, "c": {"identity": "carol"}, "n": None}


def test_scheduler_runs_overdue_once_then_continues(tmp_path):
    async def body(crons, now):
        # Down for three hours: one run now, then the schedule resumes from now.
        await crons.put(_cron(schedule="0 * * * *", next_run_date=(BASE - dt.timedelta(hours=3)).isoformat(), thread_id="t"))
        await trio.sleep(61 * 60)

    made = run_with_scheduler(tmp_path, body)
    assert [round(m, 3) for m, *_ in made] == [0, 60]
    assert made[0][1] == "t"


def test_scheduler_stops_at_end_time(tmp_path):
    async def body(crons, now):
        await crons.put(_cron(end_time=(BASE + dt.timedelta(minutes=12)).isoformat()))
        await trio.sleep(30 * 60)

    assert [round(m, 3) for m, *_ in run_with_scheduler(tmp_path, body)] == [5, 10]


def test_scheduler_wakes_on_change(tmp_path):
    async def body(crons, now):
        await trio.sleep(1)  # the scheduler is asleep: no crons
        cron = _cron(schedule="* * * * * *", next_run_date=(now() + dt.timedelta(seconds=1)).isoformat(), thread_id="t")
        await crons.put(cron)
        await trio.sleep(1.5)
        await crons.update(cron.cron_id, lambda c: setattr(c, "enabled", False))
        await trio.sleep(10)

    made = run_with_scheduler(tmp_path, body)
    # Fired at 2 s (not at the 60 s re-read), then every second until disabled.
    assert [round(m * 60, 3) for m, *_ in made] == [2]


def test_scheduler_survives_rejected_runs(tmp_path):
    async def body(crons, now):
        await crons.put(_cron())
        await trio.sleep(11 * 60)

    assert len(run_with_scheduler(tmp_path, body, fail=True)) == 2


def test_patched_schedule_wins_over_an_advance(tmp_path):
    async def body(crons, now):
        cron = _cron()
        await crons.put(cron)
        # The scheduler read the cron for its 5-minute tick; meanwhile the schedule changed.
        changed = await crons.update(cron.cron_id, lambda c: setattr(c, "next_run_date", "2030-01-01T00:00:00+00:00"))
        assert not await crons.advance(cron.cron_id, cron.next_run_date, "2026-11-26T10:10:00+00:00")
        assert crons.get(cron.cron_id).next_run_date == changed.next_run_date

    run_with_scheduler(tmp_path, body)


def test_cascading_delete(tmp_path):
    async def body(crons, now):
        await crons.put(_cron(thread_id="00000000-0000-0000-0000-0000000000aa"))
        await crons.put(_cron(assistant_id="00000000-0000-0000-0000-0000000000bb"))
        await crons.put(_cron())
        assert await crons.store.write(crons.delete_matching_op(thread_id="00000000-0000-0000-0000-0000000000aa")) == 1
        assert await crons.store.write(crons.delete_matching_op(assistant_id="00000000-0000-0000-0000-0000000000bb")) == 1
        assert [c.assistant_id for c in crons.all()] == [AGENT_ID]

    run_with_scheduler(tmp_path, body)


# -- the API, over HTTP --------------------------------------------------------------------


@pytest.mark.anyio
async def test_cron_crud(client, http):
    thread = await client.threads.create()
    created = await client.crons.create("agent", schedule="0 0 * * *", input={"topic": "x"}, metadata={"m": 1})
    assert created["assistant_id"] == AGENT_ID
    assert created["thread_id"] is None and created["on_run_completed"] == "delete" and created["enabled"] is True
    assert created["timezone"] is None and created["end_time"] is None and created["user_id"] == ""  # as the reference, without auth
    assert created["metadata"] == {"m": 1}
    assert created["payload"]["input"] == {"topic": "x"}
    assert created["payload"]["config"]["configurable"]["cron_id"] == created["cron_id"]
    assert dt.datetime.fromisoformat(created["next_run_date"]).time() == dt.time(0, 0)
    cron_id = created["cron_id"]
    assert (await http.get(f"/runs/crons/{cron_id}")).json() == created

    on_thread = await client.crons.create_for_thread(thread["thread_id"], "agent", schedule="30 6 * * *", timezone="Asia/Tokyo")
    assert on_thread["thread_id"] == thread["thread_id"] and on_thread["on_run_completed"] is None
    assert on_thread["timezone"] == "Asia/Tokyo"
    assert dt.datetime.fromisoformat(on_thread["next_run_date"]).astimezone(dt.UTC).time() == dt.time(21, 30)

    found = await client.crons.search(thread_id=thread["thread_id"])
    assert [c["cron_id"] for c in found] == [on_thread["cron_id"]]
    assert await client.crons.count(thread_id=thread["thread_id"]) == 1
    assert await client.crons.count(metadata={"m": 1}) >= 1
    ids_newest_first = [c["cron_id"] for c in await client.crons.search(assistant_id=AGENT_ID, limit=1000)]
    assert ids_newest_first.index(on_thread["cron_id"]) < ids_newest_first.index(cron_id)
    selected = await client.crons.search(thread_id=thread["thread_id"], select=["cron_id", "schedule"])
    assert selected == [{"cron_id": on_thread["cron_id"], "schedule": "30 6 * * *"}]

    end = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    updated = await client.crons.update(cron_id, schedule="15 * * * *", enabled=False, metadata={"n": 2}, end_time=end)
    assert updated["schedule"] == "15 * * * *" and updated["enabled"] is False
    assert updated["metadata"] == {"m": 1, "n": 2}
    assert dt.datetime.fromisoformat(updated["end_time"]) == end
    assert dt.datetime.fromisoformat(updated["next_run_date"]).minute == 15
    assert updated["payload"]["assistant_id"] == AGENT_ID
    assert updated["payload"]["config"]["configurable"]["cron_id"] == cron_id
    assert (await client.crons.update(cron_id, end_time=None))["end_time"] is None
    assert [c["cron_id"] for c in await client.crons.search(assistant_id=AGENT_ID, enabled=False, limit=1000)].count(cron_id) == 1

    await client.crons.delete(cron_id)
    assert (await http.get(f"/runs/crons/{cron_id}")).status_code == 404
    assert (await http.delete(f"/runs/crons/{cron_id}")).status_code == 404
    await client.crons.delete(on_thread["cron_id"])


@pytest.mark.anyio
async def test_cron_validation(http):
    async def status(method: str, path: str, body=None) -> int:
        response = await http.request(method, path, json=body)
        assert "detail" in response.json() if response.status_code >= 400 else True
        return response.status_code

    missing = str(uuid.uuid4())
    assert await status("POST", "/runs/crons", {"assistant_id": "agent", "schedule": "nope"}) == 422
    assert await status("POST", "/runs/crons", {"assistant_id": "agent"}) == 422
    assert await status("POST", "/runs/crons", {"schedule": "* * * * *"}) == 422
    assert await status("POST", "/runs/crons", {"assistant_id": "agent", "schedule": "* * * * *", "timezone": "Mars/Base"}) == 422
    assert await status("POST", "/runs/crons", {"assistant_id": "agent", "schedule": "* * * * *", "on_run_completed": "x"}) == 422
    assert await status("POST", "/runs/crons", {"assistant_id": "agent", "schedule": "* * * * *", "end_time": "soon"}) == 422
    assert await status("POST", "/runs/crons", {"assistant_id": "nope", "schedule": "* * * * *"}) == 404
    assert await status("POST", "/runs/crons", {"assistant_id": missing, "schedule": "* * * * *"}) == 404
    assert await status("POST", f"/threads/{missing}/runs/crons", {"assistant_id": "agent", "schedule": "* * * * *"}) == 404
    assert await status("POST", "/threads/not-a-uuid/runs/crons", {"assistant_id": "agent", "schedule": "* * * * *"}) == 422
    assert await status("GET", "/runs/crons/not-a-uuid") == 422
    assert await status("GET", f"/runs/crons/{missing}") == 404
    assert await status("PATCH", f"/runs/crons/{missing}", {"enabled": False}) == 404
    assert await status("DELETE", f"/runs/crons/{missing}") == 404
    assert await status("POST", "/runs/crons/search", {"limit": 0}) == 422
    assert await status("POST", "/runs/crons/search", {"sort_by": "schedule"}) == 422
    assert await status("POST", "/runs/crons/search", {"select": ["nope"]}) == 422
    assert await status("POST", "/runs/crons/search", {"assistant_id": "agent"}) == 422

    created = (await http.post("/runs/crons", json={"assistant_id": "agent", "schedule": "0 0 1 1 *"})).json()
    path = f"/runs/crons/{created['cron_id']}"
    assert await status("PATCH", path, {}) == 400
    assert await status("PATCH", path, {"schedule": "bad"}) == 422
    assert await status("PATCH", path, {"timezone": "Nowhere/Land"}) == 422
    assert await status("DELETE", path) == 204


@pytest.mark.anyio
async def test_due_crons_create_runs(client, http):
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    # Six fields: the last is seconds (croniter), so this cron is due every second.
    cron = await client.crons.create_for_thread(thread_id, "agent", schedule="* * * * * *", input={"topic": "cron"}, metadata={"from": "cron"})
    try:
        runs = []
        with anyio.fail_after(20):
            while len(runs) < 2:
                await anyio.sleep(0.2)
                runs = await client.runs.list(thread_id)
    finally:
        await client.crons.delete(cron["cron_id"])
    assert all(r["assistant_id"] == AGENT_ID and r["metadata"]["from"] == "cron" for r in runs)
    await client.runs.join(thread_id, runs[0]["run_id"])
    state = await client.threads.get_state(thread_id)
    assert state["values"]["joke"] == "This is a joke about cron and cats"

    # Stateless, kept: each tick runs on a new thread, which stays.
    topic = f"stateless {uuid.uuid4()}"
    stateless = await client.crons.create("agent", schedule="* * * * * *", input={"topic": topic}, on_run_completed="keep")
    try:
        kept = []
        with anyio.fail_after(20):
            while not kept:
                await anyio.sleep(0.2)
                kept = await client.threads.search(values={"joke": f"This is a joke about {topic} and cats"})
    finally:
        await client.crons.delete(stateless["cron_id"])
    assert all(t["thread_id"] != thread_id for t in kept)


@pytest.mark.anyio
async def test_http_deleting_a_thread_deletes_its_crons(client, http):
    thread = await client.threads.create()
    cron = await client.crons.create_for_thread(thread["thread_id"], "agent", schedule="0 0 * * *", input={"topic": "c"})
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 200
    await client.threads.delete(thread["thread_id"])
    assert (await http.get(f"/runs/crons/{cron['cron_id']}")).status_code == 404
