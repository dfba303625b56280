"""API authentication: who is calling. Off by default; static bearer tokens or your own authenticator.

An authenticator takes the request and returns a ``Principal`` (or raises ``NotAuthenticatedError``).
``OrchestratorCore(authenticate=...)`` installs one, e.g. a function that validates an OIDC access
token and returns the user's name and claims. With ``API_TOKENS`` set, the built-in one accepts
``Authorization: Bearer <token>`` for the listed tokens. Browsers cannot set headers on a WebSocket
or an ``EventSource``: there the token comes as orchestrator-ui sends it, the subprotocol pair
``base64.bearer.token, <token>``, or as ``?token=``, which only those two accept (a token in a URL
ends up in logs and browser histories; the server's logs show it as ``token=***``).
``bearer_token(request)`` finds it wherever it may be, for your own authenticators too.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from orchestrion.errors import NotAuthenticatedError
from orchestrion.services import audit


@dataclass(frozen=True)
class Principal:
    name: str
    claims: dict[str, Any] = field(default_factory=dict)


ANONYMOUS = Principal("SYSTEM")
# Set in the scope of a request whose client cannot send headers (an EventSource): ``?token=`` counts.
QUERY_TOKEN_ALLOWED = "orchestrion.query_token_allowed"
# The WebSocket subprotocol orchestrator-ui offers, followed by the token itself.
TOKEN_SUBPROTOCOL = "base64.bearer.token"
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
        token = bearer_token(request)
        if token is not None:
            for known, user in users.items():
                if secrets.compare_digest(known, token):
                    return Principal(user)
        raise NotAuthenticatedError("A valid bearer token is required")

    return authenticate


def bearer_token(request: HTTPConnection) -> str | None:
    """The bearer token of a request: its ``Authorization`` header, else (a WebSocket) the token
    subprotocol pair, else (a WebSocket or an event stream) the ``token`` query parameter; None without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme:
        return token.strip() if scheme.lower() == "bearer" else None
    offered = [p.strip() for p in request.headers.get("sec-websocket-protocol", "").split(",")]
    if TOKEN_SUBPROTOCOL in offered[:-1]:
        return offered[offered.index(TOKEN_SUBPROTOCOL) + 1]
    if request.scope["type"] == "websocket" or request.scope.get(QUERY_TOKEN_ALLOWED):
        return request.query_params.get("token")
    return None


def stream_user(request: HTTPConnection) -> Principal:
    """``current_user`` of an event stream: ``EventSource`` cannot send headers, so ``?token=`` counts."""
    request.scope[QUERY_TOKEN_ALLOWED] = True
    return current_user(request)


def current_user(request: HTTPConnection) -> Principal:
    """FastAPI dependency (HTTP and WebSocket): the authenticated caller; 401 when authentication fails."""
    authenticate: Authenticator = getattr(request.app, "authenticate", anonymous)
    principal = authenticate(request)
    request.state.principal = principal
    audit.caller().user = principal.name  # an audited route's entries name who called it
    return principal
