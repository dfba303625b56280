"""OIDC access tokens: signed by a provider whose keys a local server publishes (discovery and JWKS)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from orchestrion.api.oidc import oidc_authenticator
from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.settings import AppSettings
from orchestrion.workflow import Workflow, done, init

AUDIENCE = "orchestrion-api"


class Provider:
    """An identity provider: RSA keys, a discovery document and a JWKS, served over HTTP on localhost."""

    def __init__(self) -> None:
        self.published: list[tuple[str, rsa.RSAPrivateKey]] = []
        self.jwks_fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body: dict[str, Any] = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks"}
                elif self.path == "/jwks":
                    provider.jwks_fetches += 1
                    body = {"keys": [provider.jwk(kid, key) for kid, key in provider.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def jwk(kid: str, key: rsa.RSAPrivateKey) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        return {**found, "kid": kid, "use": "sig", "alg": "RS256"}

    def new_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        kid, key = uuid.uuid4().hex, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append((kid, key))
        return kid, key

    def token(self, signer: tuple[str, rsa.RSAPrivateKey] | None = None, **claims: Any) -> str:
        kid, key = signer or self.published[-1]
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "u-1", "preferred_username": "ada", "iat": now}
        return jwt.encode({**body, "exp": now + 300, **claims}, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    found = Provider()
    found.new_key()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def client(provider: Provider, database: Database, register: Callable[..., Workflow]) -> Iterator[TestClient]:
    register("oidc_hello", init >> done)
    settings = AppSettings(OIDC_ISSUER=provider.issuer, OIDC_AUDIENCE=AUDIENCE, SCHEDULER_ENABLED=False)
    with TestClient(OrchestratorCore(settings, database=database)) as c:
        yield c


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_names_the_caller(client: TestClient, provider: Provider) -> None:
    created = client.post("/api/processes/oidc_hello", json=[{}], headers=_bearer(provider.token()))
    assert created.status_code == 201, created.text
    detail = client.get(f"/api/processes/{created.json()['id']}", headers=_bearer(provider.token()))
    assert detail.json()["created_by"] == "ada"


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "another-api"}, "audience"),
        ({"iss": "http://127.0.0.1:1/elsewhere"}, "issuer"),
    ],
)
def test_expired_foreign_and_misdirected_tokens_are_refused(
    client: TestClient, provider: Provider, claims: dict[str, Any], why: str
) -> None:
    refused = client.get("/api/processes/", headers=_bearer(provider.token(**claims)))
    assert refused.status_code == 401
    assert why in refused.json()["detail"].lower()


def test_no_token_a_garbled_one_and_a_forged_one_are_refused(client: TestClient, provider: Provider) -> None:
    assert client.get("/api/processes/").status_code == 401
    assert client.get("/api/processes/", headers=_bearer("not-a-jwt")).status_code == 401
    kid = provider.published[0][0]
    forger = (kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))  # the right kid, another key
    assert client.get("/api/processes/", headers=_bearer(provider.token(forger))).status_code == 401
    assert client.get("/api/health/").status_code == 200  # health stays open for load balancers


def test_a_rotated_key_is_fetched_when_a_token_names_it(database: Database, provider: Provider) -> None:
    authenticate = oidc_authenticator(provider.issuer, AUDIENCE, refetch_after_seconds=0)
    client = TestClient(
        OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database, authenticate=authenticate)
    )
    assert client.get("/api/processes/", headers=_bearer(provider.token())).status_code == 200
    fetches = provider.jwks_fetches
    assert client.get("/api/processes/", headers=_bearer(provider.token())).status_code == 200
    assert provider.jwks_fetches == fetches  # cached
    provider.new_key()  # the provider rotates: tokens now name a key the server has not seen
    assert client.get("/api/processes/", headers=_bearer(provider.token())).status_code == 200
    assert provider.jwks_fetches == fetches + 1
