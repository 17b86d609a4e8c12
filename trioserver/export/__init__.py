"""Moving a deployment between trioserver and Postgres-backed Agent Servers.

`trioserver export` copies a data directory into Aegra (or LangGraph Platform, through its
API); `trioserver import` brings an Aegra or langgraph-checkpoint-postgres database back.
`datadir` is the one module that touches trioserver's storage; `aegra` and `platform`
write the targets; `verify` compares checkpoint chains on both sides.
"""
