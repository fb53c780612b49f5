"""``/v1/ready``: a load balancer's check, keyless and of bounded cost."""

from __future__ import annotations

import pytest

from tests.service.conftest import Api


def test_ready_answers_without_a_key_and_reflects_the_database(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    readiness = api.client.app.state.hashwall.readiness  # type: ignore[attr-defined]
    assert api.client.get("/v1/ready").json() == {"status": "ready"}
    probes: list[int] = []

    def down() -> bool:
        probes.append(1)
        return False

    monkeypatch.setattr(readiness, "_probe", down)
    monkeypatch.setattr(readiness, "_checked_at", float("-inf"))
    answers = [api.client.get("/v1/ready") for _ in range(20)]
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["error"]["code"] == "database_unavailable"
    assert answers[0].headers["retry-after"] == "2"
    assert len(probes) == 1  # twenty requests, one probe: the answer is reused for a second


def test_postgres_connection_arguments() -> None:
    from sqlalchemy.engine import make_url

    from hashwall.store.db import DatabaseUrlError, _postgres_connect_args

    url, args = _postgres_connect_args(
        make_url("postgresql+psycopg://u@h/db?prepare_threshold=none")
    )
    assert "prepare_threshold" not in url and args == {
        "prepare_threshold": None,
        "connect_timeout": 5,
    }
    _, args = _postgres_connect_args(make_url("postgresql+psycopg://u@h/db?connect_timeout=2"))
    assert args == {}  # the URL's own timeout is kept (libpq reads it)
    with pytest.raises(DatabaseUrlError, match="prepare_threshold"):
        _postgres_connect_args(make_url("postgresql+psycopg://u@h/db?prepare_threshold=often"))
