"""Authentication and authorization: the built-in API key and langgraph.json's custom auth.

- `apikey`: the shared-secret gate (`--api-key-file`, `TRIOSERVER_API_KEY`).
- `loader`: finding and checking the `langgraph_sdk.Auth` object of `auth.path`.
- `authorize`: `Authorizer` (as `svc.auth`): authenticate once per request, then one
  handler per operation, returning a `Filter`.
- `filters`: the one filter evaluator, for every read, search, count and check.
- `users`, `context`: the principal (user and permissions) of a request or a run.
- `gate`: the before-request hook that puts all of it in front of every route.
"""

from .authorize import AuthDenied, Authorizer
from .context import Principal, acting_as, current_principal, get_auth_ctx
from .filters import ALL, Filter

__all__ = ["ALL", "AuthDenied", "Authorizer", "Filter", "Principal", "acting_as", "current_principal", "get_auth_ctx"]
