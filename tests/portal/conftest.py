"""Fixtures for the portal tests: the service suite's databases (SQLite, and PostgreSQL when
``HASHWALL_TEST_DATABASE_URL`` is set) with portal settings small enough to test quickly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("sqlalchemy", reason="the server extra is not installed")

from PIL import Image

from hashwall.hashing import hash_file
from hashwall.service.settings import Settings
from tests.conftest import textured_rgb
from tests.service.conftest import SECRET, Api, api_factory, database_url

__all__ = ["Api", "api_factory", "database_url"]


def portal_settings(database_url: str, tmp_path: Path, **portal: Any) -> Settings:
    values: dict[str, Any] = {
        "portal_scrypt_n": 2**10,
        "portal_max_records": 5,
        "portal_max_body_bytes": 64 * 1024,
        "portal_cases_per_ip_hour": 100,
        "portal_ip_max_failed_pins": 100,
        **portal,
    }
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        max_upload_bytes=2 * 1024 * 1024,
        change_poll_seconds=0.1,
        **values,
    )


@pytest.fixture
def portal_api(
    api_factory: Callable[[Settings], Api], database_url: str, tmp_path: Path
) -> Callable[..., Api]:
    """``portal_api(portal_max_failed_pins=3, ...)``: an app with these portal settings."""

    def build(**portal: Any) -> Api:
        return api_factory(portal_settings(database_url, tmp_path, **portal))

    return build


@pytest.fixture
def records(tmp_path: Path) -> list[dict[str, Any]]:
    """Three ``hashwall hash`` records of synthetic photos, as the page would send them."""
    out = []
    for seed in (11, 12, 13):
        path = tmp_path / f"private-photo-{seed}.png"
        Image.fromarray(textured_rgb(seed)).save(path)
        record: dict[str, Any] = hash_file(path).as_json()
        record["path"] = path.name
        out.append(record)
    return out
