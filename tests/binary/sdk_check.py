"""The official Python SDK against the binary, for scripts/smoke-binary.

    python tests/binary/sdk_check.py examples URL         # prints a thread id last
    python tests/binary/sdk_check.py restarted URL THREAD_ID
    python tests/binary/sdk_check.py user URL

Runs from the project venv as a client process; the server under test is the binary.
Each check raises (exit 1) with what it saw when the server's answer is wrong.
"""

from __future__ import annotations

import asyncio
import sys

from langgraph_sdk import get_client


def check(cond: bool, what: str, seen: object) -> None:
    if not cond:
        raise SystemExit(f"sdk_check: {what}; saw {seen!r}")


async def tokens(client, assistant: str, input: dict) -> list[str]:
    """Contents of the AI message chunks of a stateless `messages-tuple` stream."""
    out = []
    async for part in client.runs.stream(None, assistant, input=input, stream_mode="messages-tuple"):
        if part.event == "messages":
            message, metadata = part.data
            check(isinstance(metadata, dict) and metadata.get("langgraph_node"), "messages metadata names its node", metadata)
            if message.get("content"):
                out.append(message["content"])
    return out


async def examples(url: str) -> None:
    client = get_client(url=url)
    ids = {a["graph_id"] for a in await client.assistants.search(limit=100)}
    check({"agent", "llm", "subgraph", "custom", "chat"} <= ids, "the bundled examples are served", ids)
    info = await client.http.get("/info")
    check(bool(info.get("version")) and bool(info.get("langgraph_py_version")), "/info reports versions", info)

    thread = await client.threads.create()
    updates = [p.data async for p in client.runs.stream(thread["thread_id"], "agent", input={"topic": "ice cream"},
                                                       stream_mode="updates") if p.event == "updates"]
    check([next(iter(u)) for u in updates] == ["refine_topic", "generate_joke"], "agent streams one update per node", updates)
    check(updates[-1]["generate_joke"]["joke"] == "This is a joke about ice cream and cats", "agent's joke", updates)

    parts = await tokens(client, "llm", {"topic": "ice cream"})
    check(len(parts) > 3, "llm streams token by token", parts)
    check("".join(parts) == "Why did the ice cream cross the road? To get to the other side!", "llm's joke", parts)
    print(thread["thread_id"])


async def restarted(url: str, thread_id: str) -> None:
    client = get_client(url=url)
    thread = await client.threads.get(thread_id)
    check(thread["thread_id"] == thread_id and thread["status"] == "idle", "the thread survives a restart", thread)
    state = await client.threads.get_state(thread_id)
    check(state["values"].get("joke") == "This is a joke about ice cream and cats", "its state survives too", state)
    # And the restarted server still runs graphs on it.
    result = await client.runs.wait(thread_id, "agent", input={"topic": "dogs"})
    check(result.get("joke") == "This is a joke about dogs and cats", "a run after the restart", result)


async def user(url: str) -> None:
    client = get_client(url=url)
    updates = [p.data async for p in client.runs.stream(None, "greeter", input={"name": "Ada"}, stream_mode="updates")
               if p.event == "updates"]
    check(updates == [{"greet": {"greeting": "Hello, Ada! (from deps, via .pth)"}}], "greeter's update", updates)
    parts = await tokens(client, "chat_openai", {"messages": [{"role": "user", "content": "hi"}]})
    check("".join(parts) == "Local models answer offline too." and len(parts) > 3,
          "langchain-openai streams the local model's tokens", parts)


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    asyncio.run({"examples": examples, "restarted": restarted, "user": user}[mode](url, *rest))
