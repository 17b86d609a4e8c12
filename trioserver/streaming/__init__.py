"""Streaming: tailing the event log and rendering it as server-sent events."""
