"""The built-in API key: one shared secret (or a few, for rotation) that every request
must carry, for self-hosters who want no auth code.

Keys come from `--api-key-file` (one per line; blank lines and `#` comments skipped) and
the `TRIOSERVER_API_KEY` environment variable; a command-line value would show in `ps`.
A request carries its key in `x-api-key` (what the official SDKs send for
`api_key=...` or `LANGGRAPH_API_KEY`) or as `Authorization: Bearer <key>` (for curl and
browser tools). Only SHA-256 digests are kept, and the presented key's digest is
compared with each of them by `hmac.compare_digest`, so neither timing nor the length of
a guess tells anything about a key. The header is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "TRIOSERVER_API_KEY"
DETAIL = "Invalid or missing API key"


class ApiKeyError(Exception):
    pass


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ApiKeyError("no API key given")
        self._digests = tuple(_digest(k) for k in keys)

    def __len__(self) -> int:
        return len(self._digests)

    @classmethod
    def load(cls, file: str | None = None, environ: Mapping[str, str] = os.environ) -> ApiKeys | None:
        """The keys of `file` and of the environment; None when neither names any."""
        keys: list[str] = []
        if file is not None:
            try:
                text = Path(file).read_text()
            except OSError as exc:
                raise ApiKeyError(f"cannot read the API key file {file}: {exc.strerror or exc}") from None
            keys += [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
            if not keys:
                raise ApiKeyError(f"the API key file {file} holds no key")
        env_key = environ.get(ENV_VAR, "").strip()
        if env_key:
            keys.append(env_key)
        return cls(keys) if keys else None

    def check(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries one of the keys."""
        presented = headers.get("x-api-key")
        if presented is None:
            authorization = headers.get("authorization")
            if authorization is not None:
                scheme, _, token = authorization.strip().partition(" ")
                if scheme.lower() == "bearer":
                    presented = token.strip()
        if not presented:
            return False
        digest = _digest(presented)
        ok = False
        for known in self._digests:  # every one, whatever matched: no timing difference
            ok |= hmac.compare_digest(digest, known)
        return ok
