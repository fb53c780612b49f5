"""Service settings from ``HASHWALL_*`` environment variables (pydantic-settings).

The secret key signs reviewer sessions and form tokens and peppers stored API-key hashes.
There is no default (a published one let anyone forge a session cookie): development
generates one into the data directory on first start, production demands an explicit strong
value and refuses to start otherwise (:mod:`hashwall.service.secret_key`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hashwall.service.secret_key import (
    PUBLISHED_DEVELOPMENT_SECRET,
    SecretKeyError,
    check_production_secret,
    development_secret,
)
from hashwall.store.db import default_sqlite_url, normalize_database_url


class InsecureSettingsError(RuntimeError):
    """A missing, published or weak secret: the service refuses to start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HASHWALL_", extra="ignore")

    env: Literal["development", "production"] = "development"
    #: SQLAlchemy URL; empty means a SQLite file ``hashwall.db`` inside ``data_dir``.
    database_url: str = ""
    data_dir: Path = Path("hashwall-data")
    #: Empty: in development, the key in ``data_dir/secret-key`` (generated on first start);
    #: production refuses to start without a strong one (at least 32 random bytes).
    secret_key: str = Field(default="", repr=False)
    #: Largest accepted upload (media or bulk import file), in bytes, for callers with a key.
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Request bodies and public uploads (docs/security.md). Every limit counts the bytes as
    # they stream in, chunked or not; routes that need a key check it before any is read.
    #: Largest JSON body of a route that needs an API key.
    max_json_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    #: Largest JSON body of a public route (the removal-request intake).
    public_max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Largest file sent without a key (removal-request copy, API or /takedown form).
    public_max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: Largest picture (width x height) or video frame decoded for a public upload; checked
    #: from the header, before any pixel is decoded.
    public_max_pixels: int = Field(default=25_000_000, ge=1)
    #: Longest video (declared or decoded) and most video/animation frames decoded for a
    #: public upload, and the wall-clock budget of its decoding.
    public_max_video_seconds: float = Field(default=60.0, gt=0)
    public_max_video_frames: int = Field(default=1800, ge=1)
    public_max_decode_seconds: float = Field(default=15.0, gt=0)
    #: Public uploads decoded at once by one worker process; a request waits up to
    #: ``public_upload_wait_seconds`` for a slot, then gets a 429.
    public_upload_concurrency: int = Field(default=2, ge=1)
    public_upload_wait_seconds: float = Field(default=5.0, ge=0)
    #: Public uploads one client address may have in flight at once (per worker; 429 above).
    public_upload_concurrency_per_ip: int = Field(default=1, ge=1)
    #: Deepest nesting accepted in JSON (and YAML case files) from public routes.
    max_json_depth: int = Field(default=64, ge=2, le=1000)
    #: How often each worker reads the change log written by the other workers.
    change_poll_seconds: float = Field(default=0.2, gt=0, le=1.0)
    #: Apply database migrations when the app starts.
    auto_migrate: bool = True
    #: Start from a snapshot of the in-memory indexes in ``data_dir/index-snapshots`` and
    #: replay the change log since, instead of reading every hash from the database; a
    #: worker that had to read them writes a new snapshot (docs/service.md, "Start-up
    #: snapshots").
    index_snapshots: bool = True
    #: A snapshot more changes behind than this (or than a tenth of its entries) is not
    #: used, as replaying would cost more than a full read; the worker reads the database
    #: and writes a fresh one.
    index_snapshot_max_replay: int = Field(default=200_000, ge=0)
    #: FastAPI's native OpenTelemetry (traces, metrics, logs) when a provider is configured.
    #: Off by default: even unconfigured, its per-request checks cost ~3 % of a match.
    opentelemetry: bool = False
    #: Interactive API docs at /docs and /redoc. They load Swagger UI and ReDoc scripts from a
    #: CDN into the origin that serves /portal and /review, so a CDN compromise would run
    #: there: unset, on in development and off in production. /openapi.json stays served.
    api_docs: bool | None = None
    # Actions (docs/service.md, "Catalog, sweep and actions").
    #: Flood quarantine: an entry matching more distinct items than this within an hour is
    #: quarantined (a bank's ``flood_threshold`` overrides it).
    flood_threshold: int = Field(default=100, ge=1)
    #: The same for banks the public fills (portal, takedown) unless the bank sets its own:
    #: low, because anyone can add their entries (docs/security.md, "Public entries").
    public_flood_threshold: int = Field(default=10, ge=1)
    #: Webhook deliveries: attempts before giving up, first retry delay, longest delay.
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: How often each worker looks for due webhook deliveries.
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: May webhooks call private, loopback or link-local addresses? Unset: yes in development
    #: (a receiver on the same machine), no in production (server-side request forgery).
    webhook_allow_private: bool | None = None
    #: How often each worker retries sweep jobs still pending this long after they were made
    #: (their in-request sweep failed); pending jobs from before a restart run at start.
    sweep_retry_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Days a match record is kept before it is counted into ``match_rollups`` and deleted
    #: (catalog links, records awaiting review or webhook delivery are kept regardless;
    #: service/retention.py). 0 keeps every record forever.
    match_record_retention_days: float = Field(default=90.0, ge=0)
    #: How often each worker prunes match records past their retention.
    match_record_prune_seconds: float = Field(default=3600.0, gt=0)
    #: How long a reviewer's claim on a review item holds before others may take it.
    review_claim_seconds: int = Field(default=900, ge=1)
    # Survivor portal (/portal, docs/portal.md).
    #: Bank that portal submissions go into (created on first submission when missing).
    portal_bank: str = Field(default="portal", min_length=1, max_length=200)
    #: Most hash records one submission may carry.
    portal_max_records: int = Field(default=50, ge=1, le=1000)
    #: Largest portal submission body, in bytes.
    portal_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Wrong PINs for one case number from one address (IPv6: one /64) before that address
    #: may not try that case for ``portal_lockout_seconds``. The case itself is never
    #: locked: a stranger must not be able to lock its owner out (docs/security.md).
    portal_max_failed_pins: int = Field(default=5, ge=1)
    portal_lockout_seconds: int = Field(default=3600, ge=1)
    #: Wrong PINs for one case number from all addresses together per
    #: ``portal_case_window_seconds``; past this budget the case is *slowed*: each address
    #: gets only ``portal_slowed_pins_per_address`` tries at it per lock-out period.
    portal_case_max_failed_pins: int = Field(default=20, ge=1)
    portal_case_window_seconds: int = Field(default=3600, ge=1)
    portal_slowed_pins_per_address: int = Field(default=2, ge=1)
    #: Wrong PINs from one client address per ``portal_ip_window_seconds`` before a pause.
    portal_ip_max_failed_pins: int = Field(default=20, ge=1)
    portal_ip_window_seconds: int = Field(default=900, ge=1)
    #: Cases one client address may create per hour.
    portal_cases_per_ip_hour: int = Field(default=10, ge=1)
    #: scrypt cost (a power of two) for stored PINs.
    portal_scrypt_n: int = Field(default=2**14, ge=2**10, le=2**20)

    # Likeness protection (docs/likeness.md, "Service").
    #: AES-256 key for enrolled templates at rest: URL-safe base64 of 32 random bytes
    #: (`hashwall likeness keygen`). Empty in development: derived from the secret key.
    likeness_key: str = Field(default="", repr=False)
    #: Retired keys, comma-separated, still accepted for reading during a key rotation
    #: (`hashwall likeness rotate-key` re-encrypts every template under the current key).
    likeness_previous_keys: str = Field(default="", repr=False)
    #: Bank whose review/webhook actions likeness matches trigger (created on first enrolment).
    likeness_bank: str = Field(default="likeness", min_length=1, max_length=200)
    #: Screening requests one API key may make per ``likeness_rate_window_seconds``, counted
    #: in the database so the limit holds across workers.
    likeness_rate_limit: int = Field(default=60, ge=1)
    likeness_rate_window_seconds: float = Field(default=60.0, gt=0)
    #: Cosine similarity for a face to count as an enrolled person; intimate-score threshold.
    likeness_threshold: float = Field(default=0.40, gt=0, le=1)
    likeness_intimate_threshold: float = Field(default=0.5, gt=0, le=1)

    # Removal requests, platform side (docs/takedown.md).
    #: Bank the hashes of every removal request go into (created on the first request).
    takedown_bank: str = Field(default="takedown", min_length=1, max_length=200)
    #: The platform's takedown webhook: one signed call per removal task. Empty: no calls;
    #: tasks wait until the platform confirms them through the API.
    takedown_webhook_url: str = Field(default="", max_length=2000)
    #: HMAC secret for the takedown and escalation webhooks (required with either URL).
    takedown_webhook_secret: str = Field(default="", repr=False)
    #: Escalation webhook (fired once per case before its deadline); empty: the takedown URL.
    takedown_escalation_url: str = Field(default="", max_length=2000)
    #: Deadline overrides, e.g. ``EU=12h,soon_due_within=4h,escalate_before=6h``.
    takedown_deadlines: str = Field(default="", max_length=500)
    #: The legal regimes this platform is subject to (a US covered platform, a service offered
    #: in the EU, a UK-regulated service, one eSafety can give notices to): US, EU, UK, AU.
    #: A request's deadline is the soonest of theirs, wherever the requester lives.
    takedown_regimes: str = Field(default="US,EU,UK,AU", max_length=100)
    #: Set true once the UK's 48-hour duty (Online Safety Act 2023 s. 20A) is commenced; until
    #: then the UK deadline is an internal target (docs/legal.md).
    takedown_uk_48h_in_force: bool = False
    #: The national provision EU decisions rely on when the reviewer names none, e.g.
    #: "§ 201a StGB (Germany)": the statement of reasons must cite national law (docs/legal.md).
    takedown_eu_legal_ground: str = Field(default="", max_length=500)
    #: Removal requests one client address may submit per hour (the intake is public).
    takedown_requests_per_ip_hour: int = Field(default=20, ge=1)
    #: Form posts one client address may make to the survivor's notice tool (/notices) per
    #: hour: each renders notices and PDFs, so the public page is no way to burn CPU.
    notices_posts_per_ip_hour: int = Field(default=200, ge=1)
    #: How often each worker finishes pending sweeps and fires due escalations.
    takedown_poll_seconds: float = Field(default=5.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _check_takedown(self) -> Settings:
        # Imported here, like the likeness check: settings must load without the cases extra.
        from hashwall.service.takedown.config import check_takedown_settings

        check_takedown_settings(self)
        return self

    @model_validator(mode="after")
    def _resolve_secret_key(self) -> Settings:
        try:
            if self.env == "production":
                check_production_secret(self.secret_key)
            elif self.secret_key == PUBLISHED_DEVELOPMENT_SECRET:
                raise SecretKeyError(
                    "HASHWALL_SECRET_KEY is the development default published in hashwall's "
                    "source: anyone could sign sessions for this server; unset it (a random "
                    "key is then kept in the data directory) or set a random value"
                )
            elif not self.secret_key:
                self.secret_key = development_secret(self.data_dir)
        except SecretKeyError as error:
            raise InsecureSettingsError(str(error)) from None
        return self

    @model_validator(mode="after")
    def _check_retention(self) -> Settings:
        # The flood rule counts the last hour's records: a day keeps it well clear of that.
        if 0 < self.match_record_retention_days < 1:
            raise ValueError(
                "HASHWALL_MATCH_RECORD_RETENTION_DAYS must be 0 (keep every record) or at least 1"
            )
        return self

    @property
    def match_record_retention(self) -> timedelta | None:
        """How long match records are kept; None: forever."""
        days = self.match_record_retention_days
        return timedelta(days=days) if days else None

    @model_validator(mode="after")
    def _check_likeness_key(self) -> Settings:
        # Imported here: the settings module must not need the likeness package at import time.
        from hashwall.service.likeness.keys import check_likeness_key

        check_likeness_key(self)
        return self

    def legacy_secret_keys(self) -> tuple[str, ...]:
        """Secrets accepted for *reading* data written before this key (never for signing):
        in development, the published default of earlier versions, so a development data
        directory keeps its API keys, webhook secrets and likeness templates."""
        if self.env == "development" and self.secret_key != PUBLISHED_DEVELOPMENT_SECRET:
            return (PUBLISHED_DEVELOPMENT_SECRET,)
        return ()

    @property
    def interactive_docs(self) -> bool:
        if self.api_docs is not None:
            return self.api_docs
        return self.env == "development"

    @property
    def webhooks_may_reach_private(self) -> bool:
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.env == "development"

    def resolved_database_url(self) -> str:
        return normalize_database_url(self.database_url or default_sqlite_url(self.data_dir))
