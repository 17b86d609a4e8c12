"""The HTTP layer: parse and validate, call storage and the runtime, render. No business logic."""
