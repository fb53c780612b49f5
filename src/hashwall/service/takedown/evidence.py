"""A case's evidence pack, from the platform's own record: what was asked, what was found and
removed, and the audit chain that proves when.

The pack is the one ``hashwall notice evidence`` writes (:func:`hashwall.cases.evidence.
export_pack`: ``evidence.json``, ``summary.pdf``, ``SHA256SUMS`` with a verification hash),
zipped for download. It holds the request, the removal tasks, the hashes that went into the
takedown bank and the case's audit entries with the verdict on the whole chain; never media,
because the platform keeps none. The export itself is an access to the case, so it is audited
(``case.exported``) before the pack is built, and the pack carries that entry too.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.cases.audit_db import SqlAuditStore
from hashwall.cases.evidence import export_pack
from hashwall.service.takedown.config import clock_for
from hashwall.service.takedown.journal import audited, record
from hashwall.service.takedown.queries import detail, load_case
from hashwall.store import Entry
from hashwall.store.takedown_models import RemovalRequestRow

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState


def _bank_hashes(session: Session, case_id: str) -> list[dict[str, Any]]:
    """The case's takedown-bank entries with every stored hash (the block list it created)."""
    entries = session.scalars(
        select(Entry)
        .where(Entry.case_ref == case_id, Entry.source.like("takedown:%"))
        .order_by(Entry.id)
    )
    return [
        {
            "entry_id": entry.id,
            "state": str(entry.state),
            "source": entry.source,
            "signals": [
                {"signal_type": s.signal_type, "variant": s.variant, "value": s.value}
                for s in entry.signals
            ],
        }
        for entry in entries
    ]


def _case_record(state: ServiceState, session: Session, row: RemovalRequestRow) -> dict[str, Any]:
    case = dataclasses.asdict(detail(state, session, row))
    case.pop("timeline", None)  # the audit entries are in the pack in full
    case["bank_entries"] = _bank_hashes(session, row.case_id)
    return case


def evidence_zip(state: ServiceState, case_id: str, *, actor: str) -> bytes:
    """The zipped evidence pack of one case; raises ``TakedownNotFound``."""

    def work(session: Session) -> dict[str, Any]:
        row = load_case(session, case_id)
        record(state, session, actor=actor, action="case.exported", case_id=case_id, data={})
        return _case_record(state, session, row)

    case_record = audited(state, work)
    with tempfile.TemporaryDirectory(prefix="hashwall-evidence-") as tmp:
        pack = export_pack(
            case_id=case_id,
            case_record=case_record,
            audit=SqlAuditStore(state.db.sessions),
            out_dir=Path(tmp) / "pack",
            now=clock_for(state).now(),
        )
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(pack.folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{case_id}/{path.relative_to(pack.folder)}")
    return buffer.getvalue()
