"""Record raw event-streaming (v2) frames from a server, one file per bundled graph.

    .venv/bin/python tests/transcripts/v2/record.py http://127.0.0.1:PORT [graph ...]

For each graph: open `POST /threads/<new id>/stream/events` with every channel, send
`run.start` to `/threads/<id>/commands`, and keep the stream's bytes exactly as they arrive
until the run's root lifecycle says it ended, and one second more (for `asking`: answer the
interrupt with `input.respond` and read on to the second run's end). Each file holds the commands sent and
their answers, the stream's response headers, then the raw SSE body (heartbeats and CRLFs kept).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ALL_CHANNELS = [
    "values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom",
    "custom:toolCallCount",
]
INPUTS = {
    "agent": {"topic": "ice cream"},
    "subgraph": {"foo": "foo"},
    "llm": {"topic": "ice cream"},
    "custom": {"query": "q"},
    "chat": {"messages": [{"type": "human", "content": "hi"}]},
    "asking": {"question": "Deploy?"},
    "tools": {"messages": [{"type": "human", "content": "weather in Paris?"}]},
    "slowchat": {"messages": [{"type": "human", "content": "hi"}], "delay": 0.02, "words": 3},
}
ANSWER = "yes"  # what `asking`'s interrupt is answered with


def _root_terminal(event: dict) -> bool:
    return (event.get("method") == "lifecycle" and event["params"]["namespace"] == []
            and event["params"]["data"].get("event") in ("completed", "failed", "interrupted"))


async def record(http: httpx.AsyncClient, graph: str) -> str:
    thread = str(uuid.uuid4())
    exchanges: list[str] = []
    raw = bytearray()
    events: asyncio.Queue[dict] = asyncio.Queue()

    async def command(cmd: dict) -> dict:
        res = await http.post(f"/threads/{thread}/commands", json=cmd)
        exchanges.append(f"POST /threads/{thread}/commands {json.dumps(cmd)}\n-> {res.status_code} {res.text}")
        return res.json()

    body = {"channels": ALL_CHANNELS}
    async with http.stream("POST", f"/threads/{thread}/stream/events", json=body) as res:
        headers = "\n".join(f"{k}: {v}" for k, v in res.headers.items())
        head = f"HTTP/1.1 {res.status_code} {res.reason_phrase}\n{headers}"

        async def read() -> None:
            buffer = b""
            async for chunk in res.aiter_raw():
                raw.extend(chunk)
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b"data: "):
                        await events.put(json.loads(line[6:]))

        async def until_terminal() -> list[dict]:
            seen = []
            while True:
                event = await asyncio.wait_for(events.get(), 30)
                seen.append(event)
                if _root_terminal(event):
                    return seen

        reader = asyncio.create_task(read())
        try:
            await command({"id": 1, "method": "run.start", "params": {"assistant_id": graph, "input": INPUTS[graph]}})
            first = await until_terminal()
            asked = [e["params"]["data"]["interrupt_id"] for e in first if e["method"] == "input.requested"]
            if asked:
                await command({"id": 2, "method": "input.respond",
                               "params": {"interrupt_id": asked[0], "response": ANSWER, "namespace": []}})
                await until_terminal()
            # Whatever follows the end on the same stream (the reference sends a last values
            # after `interrupted`): a recording tool may wait for what might come.
            await asyncio.sleep(1.0)
        finally:
            reader.cancel()
    return (f"# graph {graph}, thread {thread}; stream body {json.dumps(body)}\n# commands\n"
            + "\n".join(exchanges) + f"\n\n# response headers\n{head}\n\n# body\n" + raw.decode())


async def main(url: str, graphs: list[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(30, read=None)) as http:
        for graph in graphs:
            text = await record(http, graph)
            (HERE / f"{graph}.txt").write_text(text, newline="")
            print(f"{graph}: {text.count('data: ')} events")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].rstrip("/"), sys.argv[2:] or list(INPUTS)))
