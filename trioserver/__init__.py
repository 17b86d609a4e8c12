"""trioserver: the LangGraph Agent Server API on Trio, with a durable LMDB event log."""

__version__ = "0.1.0"
