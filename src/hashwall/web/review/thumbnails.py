"""Thumbnails the platform supplies for its own items (catalog ``metadata.thumbnail_url``).

Only the URL is read: the reviewer's browser loads the picture straight from the platform, and
this server never fetches or stores media. Only ``https`` URLs are shown (the page's CSP allows
no other image source), so a catalog entry cannot smuggle ``javascript:`` or ``data:`` in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.store.catalog_models import CatalogItem

MAX_URL = 2000


def thumbnail_url(meta: dict[str, Any] | None) -> str | None:
    """The item's ``thumbnail_url`` when it is a plausible https URL, else ``None``."""
    value = (meta or {}).get("thumbnail_url")
    if not isinstance(value, str) or len(value) > MAX_URL:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.netloc or any(c in value for c in "\"'<> \n"):
        return None
    return value.strip()


def by_content_id(session: Session, content_ids: Iterable[str]) -> dict[str, str]:
    """``content_id -> thumbnail URL`` for the catalog items that have one."""
    wanted = sorted(set(content_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(CatalogItem.content_id, CatalogItem.meta).where(CatalogItem.content_id.in_(wanted))
    )
    found = {content_id: thumbnail_url(meta) for content_id, meta in rows}
    return {content_id: url for content_id, url in found.items() if url}
