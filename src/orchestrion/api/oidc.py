"""OIDC / OAuth2 bearer tokens: the API's callers sign in with an identity provider, not a static token.

``oidc_authenticator`` validates a JWT access token as a resource server does: its signature
against the provider's published keys (JWKS, found through the issuer's discovery document unless
given), its issuer, audience and expiry; the caller is the token's ``preferred_username`` (or
another claim), with all its claims kept on the ``Principal`` for authorization callbacks. Keys are
fetched on first use and again when a token names an unknown key (the provider rotated them), so
the server starts while the provider is down and follows its rotations. ``OIDC_ISSUER`` turns it
on for ``OrchestratorCore``; it needs PyJWT (``pip install 'orchestrion[oidc]'``).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Sequence
from typing import Any

from starlette.requests import HTTPConnection

from orchestrion.api.security import Authenticator, Principal, bearer_token
from orchestrion.errors import NotAuthenticatedError

DISCOVERY = "/.well-known/openid-configuration"
FETCH_TIMEOUT_SECONDS = 10


def _discovered_jwks_url(issuer: str) -> str:
    with urllib.request.urlopen(issuer.rstrip("/") + DISCOVERY, timeout=FETCH_TIMEOUT_SECONDS) as answer:
        return str(json.load(answer)["jwks_uri"])


def oidc_authenticator(
    issuer: str,
    audience: str | Sequence[str],
    *,
    jwks_url: str | None = None,
    username_claim: str = "preferred_username",
    algorithms: Sequence[str] = ("RS256", "ES256", "PS256", "EdDSA"),
    leeway_seconds: float = 30,
    refetch_after_seconds: float = 30,
) -> Authenticator:
    """An authenticator accepting the issuer's signed access tokens for ``audience``.

    A token naming a key not yet seen fetches the keys again, at most once per
    ``refetch_after_seconds``: tokens with made-up key ids cannot make the server hammer the provider.
    """
    import jwt  # optional: orchestrion[oidc]

    clients: list[jwt.PyJWKClient] = []
    lock = threading.Lock()

    def keys() -> jwt.PyJWKClient:
        with lock:
            if not clients:  # on first use: the provider may be down while the server starts
                url = jwks_url or _discovered_jwks_url(issuer)
                clients.append(
                    jwt.PyJWKClient(
                        url, cache_keys=True, timeout=FETCH_TIMEOUT_SECONDS, cooldown_duration=refetch_after_seconds
                    )
                )
            return clients[0]

    def authenticate(request: HTTPConnection) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise NotAuthenticatedError("A bearer token from the identity provider is required")
        try:
            key = keys().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(algorithms),
                audience=audience,
                issuer=issuer,
                leeway=leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, OSError, KeyError, ValueError) as e:
            raise NotAuthenticatedError(f"The bearer token is not valid: {e}") from e
        name = claims.get(username_claim) or claims.get("sub")
        if not name:
            raise NotAuthenticatedError(f"The token names no user ({username_claim} or sub)")
        return Principal(str(name), claims)

    return authenticate
