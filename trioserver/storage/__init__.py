"""Storage: one LMDB environment holding the event log, resources and checkpoints."""
