"""Each worker's enrolled templates, decrypted into memory once and kept in step via ``changes``.

Templates are decrypted at worker start and whenever the change log names their entry (upload,
revocation, flood quarantine, reinstatement); they are never written decrypted anywhere. A
template matches only while its entry is ``active``, it is not revoked, and its consent has not
expired (checked at screening time, since expiry needs no change row).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.keyring import KeyRing
from hashwall.likeness.templates import Template, TemplateKey
from hashwall.store import Database, Entry, EntryState
from hashwall.store.likeness_models import LikenessTemplate

log = logging.getLogger("hashwall.service.likeness")


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class CachedTemplate:
    entry_id: int
    template: Template
    expires_at: datetime | None


class TemplateCache:
    """Decrypted templates of active, unrevoked enrolments, by entry id."""

    def __init__(self, keys: KeyRing | None) -> None:
        self.keys = keys
        self._by_entry: dict[int, CachedTemplate] = {}
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()

    @property
    def key(self) -> TemplateKey | None:
        """The key new templates are stored under (``None``: likeness protection is off)."""
        return self.keys.current if self.keys is not None else None

    def __len__(self) -> int:
        return len(self._by_entry)

    def template_ids(self) -> set[str]:
        with self._lock:
            return {cached.template.template_id for cached in self._by_entry.values()}

    def current(self, now: datetime | None = None) -> list[CachedTemplate]:
        """Templates that may match now (consent not expired)."""
        now = now or datetime.now(UTC)
        with self._lock:
            cached = list(self._by_entry.values())
        return [c for c in cached if c.expires_at is None or aware(c.expires_at) > now]  # type: ignore[operator]

    def load_all(self, session: Session) -> None:
        self._load(session, None)

    def sync_entries(self, db: Database, entry_ids: Iterable[int]) -> None:
        """Reload or drop the templates of these entries (idempotent; ids of other entries
        are ignored). Syncs run one at a time, each reading in a transaction begun after the
        previous one finished, so an older snapshot can never restore a revoked template."""
        ids = sorted(set(entry_ids))
        if ids:
            with self._sync_lock, db.session(readonly=True) as session:
                self._load(session, ids)

    def _load(self, session: Session, entry_ids: list[int] | None) -> None:
        keys = self.keys
        if keys is None:  # likeness protection is off: nothing can be decrypted
            return
        query = (
            select(LikenessTemplate)
            .join(Entry, Entry.id == LikenessTemplate.entry_id)
            .where(
                Entry.state == EntryState.ACTIVE,
                LikenessTemplate.revoked_at.is_(None),
                LikenessTemplate.ciphertext.is_not(None),
            )
        )
        if entry_ids is not None:
            query = query.where(LikenessTemplate.entry_id.in_(entry_ids))
        fresh: dict[int, CachedTemplate] = {}
        for row in session.scalars(query):
            assert row.ciphertext is not None
            try:
                template = keys.open(
                    row.ciphertext.encode("utf-8"), f"template {row.template_id}"
                ).template
            except TemplateError as error:  # no configured key fits, or an altered row
                log.error("likeness template not loaded: %s", error)
                continue
            except ImportError:  # no `cryptography`: the likeness extra is not installed
                log.warning("likeness templates not loaded: the likeness extra is not installed")
                return
            fresh[row.entry_id] = CachedTemplate(
                row.entry_id, template, aware(row.consent_expires_at)
            )
        with self._lock:
            if entry_ids is None:
                self._by_entry = fresh
                return
            for entry_id in entry_ids:
                if entry_id in fresh:
                    self._by_entry[entry_id] = fresh[entry_id]
                else:
                    self._by_entry.pop(entry_id, None)
