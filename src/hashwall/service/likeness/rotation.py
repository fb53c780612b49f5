"""Key rotation: re-encrypt every stored template under the current key, in one transaction.

Why all or nothing: if one row cannot be opened with any configured key (a key missing from
``HASHWALL_LIKENESS_PREVIOUS_KEYS``, or an altered row), writing the others would leave the
operator unsure which key each row still needs. So every row is decrypted first; a single failure
stops the run before anything is written, and the error names the template ids (not personal data)
but never a key. On success each re-encrypted row gets a ``key_rotated`` audit row in the same
transaction, and afterwards no row needs a previous key.

The decrypted templates are identical before and after, so workers' in-memory copies stay valid and
no ``changes`` row is written. Run it once every worker has the new key as current (otherwise a
worker still on the old key keeps storing new uploads under it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.keyring import KeyRing
from hashwall.store import Database
from hashwall.store.likeness_models import LikenessAudit, LikenessEvent, LikenessTemplate

log = logging.getLogger("hashwall.service.likeness")

#: Template ids listed in a failure message before it says "and N more".
_LISTED = 5


class RotationError(Exception):
    """Some stored templates open with none of the configured keys; nothing was changed."""


@dataclass(frozen=True)
class RotationReport:
    """How many stored templates were re-encrypted and how many already used the current key."""

    rotated: int
    already_current: int


def _failure(failed: list[str], tried: int) -> RotationError:
    listed = ", ".join(failed[:_LISTED])
    more = f" and {len(failed) - _LISTED} more" if len(failed) > _LISTED else ""
    return RotationError(
        f"{len(failed)} stored template(s) open with none of the {tried} configured key(s) "
        f"({listed}{more}); add the key they were stored under to "
        "HASHWALL_LIKENESS_PREVIOUS_KEYS and run again. Nothing was changed."
    )


def rotate_templates(db: Database, keys: KeyRing, actor: str) -> RotationReport:
    """Re-encrypt every stored template under ``keys.current``; all rows or none.

    Rows are locked (``FOR UPDATE`` on PostgreSQL; SQLite serialises writers) so an upload or
    revocation cannot interleave with the rewrite.
    """
    rotated = current = 0
    with db.session() as session:
        query = select(LikenessTemplate).where(LikenessTemplate.ciphertext.is_not(None))
        if not db.is_sqlite:
            query = query.with_for_update()
        rows = list(session.scalars(query.order_by(LikenessTemplate.id)))
        resealed: dict[int, bytes | None] = {}
        failed: list[str] = []
        for row in rows:
            assert row.ciphertext is not None
            try:
                resealed[row.id] = keys.reseal(row.ciphertext.encode("utf-8"), row.template_id)
            except TemplateError:
                failed.append(row.template_id)
        if failed:
            raise _failure(failed, 1 + len(keys.previous))
        for row in rows:
            new = resealed[row.id]
            if new is None:
                current += 1
                continue
            row.ciphertext = new.decode("utf-8")
            session.add(
                LikenessAudit(
                    template_id=row.template_id,
                    event=LikenessEvent.KEY_ROTATED.value,
                    actor=actor,
                )
            )
            rotated += 1
    log.info("likeness key rotation: %d re-encrypted, %d already current", rotated, current)
    return RotationReport(rotated, current)
