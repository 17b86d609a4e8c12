"""What `trioserver serve` configures at start-up: the API keys, the custom auth object,
and a loud warning when a server that anyone on the network can reach has neither."""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .apikey import ApiKeyError, ApiKeys
from .authorize import authenticate_parameters
from .loader import IGNORED_KEYS, AuthLoadError, CustomAuth, auth_section, load_auth_object, warn_fails_open

log = logging.getLogger("trioserver.auth")


class AuthSetupError(Exception):
    pass


def configure(config_path: str | Path, api_key_file: str | None, host: str, environ: Mapping[str, str] = os.environ) -> tuple[ApiKeys | None, CustomAuth | None]:
    """The API keys and the loaded custom auth (either may be None); a start-up error
    for a bad key file or auth path."""
    try:
        keys = ApiKeys.load(api_key_file, environ)
        section = auth_section(config_path)
        custom: CustomAuth | None = None
        if section is not None:
            for key in IGNORED_KEYS:
                if section.get(key):
                    log.info("auth.%s in langgraph.json does not apply to trioserver; ignored", key)
            auth = load_auth_object(str(section["path"]), Path(config_path).resolve().parent)
            authenticate_parameters(auth._authenticate_handler)
            warn_fails_open(auth)
            openapi = section.get("openapi") if isinstance(section.get("openapi"), dict) else None
            if openapi is None:
                log.info("auth.openapi is not set in langgraph.json: /openapi.json shows no security scheme for custom auth")
            custom = CustomAuth(auth, str(section["path"]), openapi)
    except (ApiKeyError, AuthLoadError) as exc:
        raise AuthSetupError(str(exc)) from None
    if keys is not None:
        log.info("API key required on every request (%d key%s)", len(keys), "" if len(keys) == 1 else "s")
    if custom is not None:
        log.info("custom auth from %s", custom.path)
    if keys is None and custom is None and not is_loopback(host):
        log.warning(
            "LISTENING ON %s WITHOUT ANY AUTHENTICATION: anyone who can reach this port can read every thread and start runs. "
            "Set an API key (--api-key-file PATH or TRIOSERVER_API_KEY) or custom auth (langgraph.json \"auth\"); see README, Securing a server.",
            host,
        )
    return keys, custom


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
