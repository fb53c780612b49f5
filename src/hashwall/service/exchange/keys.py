"""Where the exchanges' secrets come from: ``HASHWALL_EXCHANGE_KEY`` (or a key file) for
bundle signatures, ``HASHWALL_STOPNCII_KEYS`` for the StopNCII API,
``HASHWALL_NCMEC_CREDENTIALS`` for NCMEC's hash sharing API and ``HASHWALL_THREATEXCHANGE_*``
for Meta's ThreatExchange Graph API.

They are read from the environment when needed rather than kept in the service settings, so
the values never appear in a settings dump; nothing here logs them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hashwall.service.errors import ApiError

MIN_KEY_LENGTH = 16


class ExchangeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HASHWALL_", extra="ignore")

    #: Shared HMAC key for hashwall exchange bundles (the same on both instances).
    exchange_key: str = Field(default="", repr=False)
    #: A file holding that key (its first line), used when ``exchange_key`` is empty.
    exchange_key_file: Path | None = None
    #: ``fetch_function_key,subscription_key[,base_url]`` as python-threatexchange reads them.
    stopncii_keys: str = Field(default="", repr=False)
    #: ``user,password[,environment]``; the environment is a pytx ``NCMECEnvironment`` name
    #: (default ``Industry``) or a base URL (a test server, a proxy).
    ncmec_credentials: str = Field(default="", repr=False)
    #: ThreatExchange app access token, ``app_id|secret`` as pytx checks it.
    threatexchange_token: str = Field(default="", repr=False)
    #: The ThreatExchange privacy group id fetched when a request names none. A string,
    #: checked where it is used, so a typo here cannot break the other exchanges' settings.
    threatexchange_privacy_group: str = ""
    #: Graph API base URL override (pytx's ``endpoint_override``); empty: pytx's default.
    threatexchange_url: str = ""


def bundle_key(key_file: Path | None = None) -> bytes:
    """The bundle signing key: an explicit key file, else the environment; 409 if unset."""
    settings = ExchangeSettings()
    path = key_file or settings.exchange_key_file
    if key_file is None and settings.exchange_key:
        key = settings.exchange_key
    elif path is not None:
        try:
            key = path.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError):
            raise ApiError(409, f"cannot read a key from the key file {path}", "key") from None
    else:
        raise ApiError(
            409,
            "no exchange key configured: set HASHWALL_EXCHANGE_KEY or HASHWALL_EXCHANGE_KEY_FILE "
            "(the same secret on both instances)",
            "key",
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ApiError(409, f"the exchange key must be at least {MIN_KEY_LENGTH} characters", "key")
    return key.encode("utf-8")
