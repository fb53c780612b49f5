"""Service settings from ``HASHWALL_*`` environment variables (pydantic-settings).

The secret key peppers stored API-key hashes. A development default keeps ``hashwall serve``
one command on a laptop; ``HASHWALL_ENV=production`` refuses to start with it, because a known
pepper turns a leaked database into offline-guessable keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hashwall.store.db import default_sqlite_url, normalize_database_url

DEFAULT_SECRET_KEY = "hashwall-development-secret-change-me"


class InsecureSettingsError(RuntimeError):
    """Production mode with a default secret: the service refuses to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HASHWALL_", extra="ignore")

    env: Literal["development", "production"] = "development"
    #: SQLAlchemy URL; empty means a SQLite file ``hashwall.db`` inside ``data_dir``.
    database_url: str = ""
    data_dir: Path = Path("hashwall-data")
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, repr=False)
    #: Largest accepted upload (media or bulk import file), in bytes.
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: How often each worker reads the change log written by the other workers.
    change_poll_seconds: float = Field(default=0.2, gt=0, le=1.0)
    #: Apply database migrations when the app starts.
    auto_migrate: bool = True

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.env == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise InsecureSettingsError(
                "HASHWALL_ENV=production but HASHWALL_SECRET_KEY is the development default; "
                "set HASHWALL_SECRET_KEY to a long random value (e.g. `openssl rand -hex 32`)"
            )
        if self.env == "production" and len(self.secret_key) < 16:
            raise InsecureSettingsError("HASHWALL_SECRET_KEY must be at least 16 characters")
        return self

    def resolved_database_url(self) -> str:
        return normalize_database_url(self.database_url or default_sqlite_url(self.data_dir))
