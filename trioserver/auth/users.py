"""The authenticated user: what the authenticate function returned, normalised as the
reference normalises it, with the same attribute and item access for handlers and graphs.

Accepted results: a string (the identity), a mapping with `identity`, an object with
an `.identity`, or a `(permissions, user)` tuple. Permissions come from the tuple, from
the user's `permissions`, else none. `display_name` defaults to the identity and
`is_authenticated` to true; every other field the function returned stays on the user.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import BadRequest

Data = dict[str, Any]  # (inside AuthUser, `dict` is its method)


class AuthUser:
    """A user with attribute and item access (`user.identity`, `user["identity"]`), as
    the reference's users: what handlers get as `ctx.user` and graphs as
    `config["configurable"]["langgraph_auth_user"]`."""

    __slots__ = ("_data", "_source")

    def __init__(self, data: Mapping[str, Any], source: Any = None) -> None:
        self._data = dict(data)
        self._source = source  # the object authenticate returned, for attributes of its own

    # -- the BaseUser protocol ---------------------------------------------------------

    @property
    def identity(self) -> str:
        return self._data["identity"]

    @property
    def is_authenticated(self) -> bool:
        return bool(self._data.get("is_authenticated", True))

    @property
    def display_name(self) -> str:
        return self._data.get("display_name") or self.identity

    @property
    def permissions(self) -> list[str]:
        return list(self._data.get("permissions") or [])

    # -- mapping access ----------------------------------------------------------------

    def dict(self) -> Data:
        """The user as plain data (what run resources and webhooks show)."""
        return {"identity": self.identity, "is_authenticated": self.is_authenticated, "display_name": self.display_name, **self._data}

    def model_dump(self, **_: Any) -> Data:
        return self.dict()

    def __getitem__(self, key: str) -> Any:
        return self.dict()[key]

    def __contains__(self, key: object) -> bool:
        return key in self.dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __len__(self) -> int:
        return len(self.dict())

    def get(self, key: str, default: Any = None) -> Any:
        return self.dict().get(key, default)

    def keys(self) -> Any:
        return self.dict().keys()

    def values(self) -> Any:
        return self.dict().values()

    def items(self) -> Any:
        return self.dict().items()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        data = object.__getattribute__(self, "_data")
        if name in data:
            return data[name]
        source = object.__getattribute__(self, "_source")
        if source is not None and not isinstance(source, (str, Mapping)):
            return getattr(source, name)
        raise AttributeError(f"user has no attribute {name!r}")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AuthUser):
            return self.dict() == other.dict()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (AuthUser, (self._data,))

    def __deepcopy__(self, memo: Any) -> AuthUser:
        import copy

        return AuthUser(copy.deepcopy(self._data, memo))

    def __repr__(self) -> str:
        return f"AuthUser({self.identity!r})"


def normalize(result: Any) -> tuple[AuthUser, list[str]]:
    """The user and permissions of what authenticate returned; a 400 for anything without
    an identity (the reference's answer)."""
    if isinstance(result, tuple):
        if len(result) != 2:
            raise BadRequest(f"Expected a tuple with two elements (permissions, user), got {len(result)}")
        permissions, user_obj = result
    else:
        user_obj = result
        permissions = None
    user = _user(user_obj)
    if permissions is None:
        permissions = user._data.get("permissions")
    return user, _permissions(permissions)


def _user(obj: Any) -> AuthUser:
    if isinstance(obj, AuthUser):
        return obj
    if isinstance(obj, str):
        return AuthUser({"identity": obj})
    if isinstance(obj, Mapping) and "identity" in obj:
        return AuthUser(obj)
    if obj is not None and not isinstance(obj, Mapping) and hasattr(obj, "identity"):
        data = _object_fields(obj)
        data["identity"] = obj.identity
        for name in ("display_name", "is_authenticated", "permissions"):
            try:
                data[name] = getattr(obj, name)
            except (AttributeError, NotImplementedError):
                pass
        return AuthUser(data, source=obj)
    raise BadRequest(
        "Expected a BaseUser instance with required property: identity (str). Optional properties are: is_authenticated (bool, defaults to True) "
        f"and display_name (str, defaults to identity). Got {type(obj)} instead"
    )


def _object_fields(obj: Any) -> dict[str, Any]:
    """The plain fields of a user object (a pydantic model, a dataclass, an object with
    `dict()`), so they travel with the run as the reference's do."""
    for name in ("model_dump", "dict"):
        method = getattr(obj, name, None)
        if callable(method):
            try:
                data = method()
            except Exception:  # noqa: BLE001 - a user object's own method; fall back to no extra fields
                continue
            if isinstance(data, Mapping):
                return dict(data)
    return {}


def _permissions(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, Sequence) else list(value or [])
