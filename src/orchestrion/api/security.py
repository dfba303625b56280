"""API authentication: who is calling. Off by default; static bearer tokens or your own authenticator.

An authenticator takes the request and returns a ``Principal`` (or raises ``NotAuthenticatedError``).
``OrchestratorCore(authenticate=...)`` installs one, e.g. a function that validates an OIDC access
token and returns the user's name and claims. With ``API_TOKENS`` set, the built-in one accepts
``Authorization: Bearer <token>`` (or ``?token=`` on a WebSocket) for the listed tokens.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from orchestrion.errors import NotAuthenticatedError


@dataclass(frozen=True)
class Principal:
    name: str
    claims: dict[str, Any] = field(default_factory=dict)


ANONYMOUS = Principal("SYSTEM")
Authenticator = Callable[[HTTPConnection], Principal]


def anonymous(request: HTTPConnection) -> Principal:
    return ANONYMOUS


def bearer_tokens(spec: str) -> Authenticator:
    """An authenticator for ``user:token`` pairs (comma separated)."""
    users: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        user, sep, token = pair.partition(":")
        if not sep or not user or not token:
            raise ValueError("API_TOKENS takes user:token pairs separated by commas")
        users[token] = user

    def authenticate(request: HTTPConnection) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not scheme and "token" in request.query_params:  # browsers cannot set headers on a WebSocket
            scheme, token = "bearer", request.query_params["token"]
        if scheme.lower() == "bearer":
            for known, user in users.items():
                if secrets.compare_digest(known, token.strip()):
                    return Principal(user)
        raise NotAuthenticatedError("A valid bearer token is required")

    return authenticate


def current_user(request: HTTPConnection) -> Principal:
    """FastAPI dependency (HTTP and WebSocket): the authenticated caller; 401 when authentication fails."""
    authenticate: Authenticator = getattr(request.app, "authenticate", anonymous)
    principal = authenticate(request)
    request.state.principal = principal
    return principal
