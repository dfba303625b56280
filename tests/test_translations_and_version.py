"""``/api/translations/{locale}`` (orchestrator-ui's form labels) and ``/api/version``, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrion import __version__
from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.settings import app_settings

Client = Callable[..., TestClient]


@pytest.fixture
def make_client(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """An app whose runtime (the test's, made with ``app_settings``) has the settings given."""
    with TestClient(OrchestratorCore(database=database)) as client:

        def make(**settings: object) -> TestClient:
            for name, value in settings.items():
                monkeypatch.setattr(app_settings, name, value)
            return client

        yield make


def test_orchestrions_own_labels(make_client: Client) -> None:
    fields = make_client().get("/api/translations/en-GB").json()["forms"]["fields"]
    assert fields["note"] == "Note"
    assert fields["subscription_id"] == "Subscription"
    dutch = make_client().get("/api/translations/nl-NL").json()["forms"]["fields"]
    assert dutch["note"] == "Notitie"
    assert set(dutch) == set(fields)  # every label in both languages


def test_the_applications_labels_win_key_by_key(make_client: Client, tmp_path: Path) -> None:
    own = {"forms": {"fields": {"note": "Remarks", "port_speed": "Speed of the port"}}, "extra": {"kept": True}}
    (tmp_path / "en-GB.json").write_text(json.dumps(own), encoding="utf-8")
    client = make_client(TRANSLATIONS_DIR=tmp_path)

    answer = client.get("/api/translations/en-GB").json()
    assert answer["forms"]["fields"]["note"] == "Remarks"
    assert answer["forms"]["fields"]["port_speed"] == "Speed of the port"
    assert answer["forms"]["fields"]["subscription_id"] == "Subscription"  # orchestrion's, not repeated
    assert answer["extra"] == {"kept": True}
    assert client.get("/api/translations/nl-NL").json()["forms"]["fields"]["note"] == "Notitie"  # no file of its own


def test_a_locale_nobody_has_is_empty_and_a_malformed_one_refused(make_client: Client) -> None:
    client = make_client()
    assert client.get("/api/translations/fr-FR").json() == {}
    for bad in ("english", "en_GB", "..%2Fsecrets", "EN-gb"):
        assert client.get(f"/api/translations/{bad}").status_code in (400, 404), bad


def test_broken_application_translations_say_where(make_client: Client, tmp_path: Path) -> None:
    (tmp_path / "en-GB.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "nl-NL.json").write_text("[1, 2]", encoding="utf-8")
    client = make_client(TRANSLATIONS_DIR=tmp_path)
    for locale in ("en-GB", "nl-NL"):
        answer = client.get(f"/api/translations/{locale}")
        assert answer.status_code == 500
        assert f"{locale}.json" in answer.json()["detail"]


def test_version_names_the_orchestrator_core_release_first(make_client: Client) -> None:
    versions = make_client().get("/api/version").json()["application_versions"]
    core, own = versions
    assert core.split(" ")[1] == "5.5.0"  # what orchestrator-ui compares with its minimum
    assert core.startswith("orchestrator-core: ")
    assert own == f"orchestrion: {__version__}"
