"""Runtime: loading graphs, running them on an asyncio loop, and the run lifecycle."""
