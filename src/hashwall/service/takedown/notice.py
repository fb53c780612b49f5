"""The DSA Art. 17 statement of reasons for a decided case, as plain text.

Built only from the stored case, its tasks and its audit entries, so the statement can never
say more than the record shows. Art. 17(3) asks for: (a) what was decided and its scope,
(b) the facts relied on, including that it followed a notice, (c) whether automated means
were used, (d) the legal ground, and (f) the redress open to the recipient: the internal
complaint-handling system (Art. 20), out-of-court dispute settlement (Art. 21) and judicial
redress. The same text answers the notifier under Art. 16(5). It is a template, not advice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.cases.audit_db import AuditLogRow
from hashwall.cases.states import TransitionError
from hashwall.service.takedown.config import aware
from hashwall.service.takedown.queries import load_case
from hashwall.store.takedown_models import RemovalRequestRow, RemovalTask, TaskStatus

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

LEGAL_GROUNDS = {
    "US": "TAKE IT DOWN Act, s. 3 (removal of non-consensual intimate visual depictions "
    "within 48 hours of a valid request, and of known identical copies)",
    "AU": "Online Safety Act 2021 (Cth), Part 6 (image-based abuse: non-consensual sharing "
    "of intimate images)",
    "UK": "Sexual Offences Act 2003, s. 66B (sharing intimate images without consent) and "
    "the illegal-content duties of the Online Safety Act 2023",
    "EU": "Regulation (EU) 2022/2065 (DSA), Art. 16 notice of illegal content: the "
    "non-consensual sharing of intimate images, an offence under Directive (EU) 2024/1385, "
    "Art. 5, and the law of the Member States",
}
_DECIDED = ("actioned", "rejected", "requester_notified", "appealed", "closed")


def _decision(row: RemovalRequestRow, tasks: list[RemovalTask]) -> list[str]:
    if row.rejection_reason is None:
        removed = sum(1 for task in tasks if task.status is TaskStatus.CONFIRMED)
        return [
            "Decision: the content identified in the notice was found to be illegal and "
            f"access to it was removed. Copies found on this service: {len(tasks)}; removal "
            f"confirmed for {removed}. The removal is permanent and applies worldwide; the "
            "content's hashes are kept in a block list so that re-uploads are refused.",
        ]
    return [
        "Decision: no action was taken on the content identified in the notice.",
        f"Reason: {row.rejection_reason}",
    ]


def _facts(row: RemovalRequestRow, tasks: list[RemovalTask]) -> list[str]:
    relation = row.request.get("relation", "")
    who = "the person depicted"
    if relation != "depicted_person":
        who = "a person authorised by the person depicted"
    lines = [
        f"Facts: the decision was taken following a notice (case {row.case_id}) received on "
        f"{aware(row.received_at):%Y-%m-%d %H:%M} UTC from {who}, stating in good faith that "
        "the intimate image was shared without consent and signed electronically.",
    ]
    for task in tasks:
        lines.append(
            f"  - {task.content_id} {task.url} (matched by {task.signal}, distance "
            f"{task.distance}; removal {task.status})".replace("  (", " (")
        )
    return lines


def _automation(tasks: list[RemovalTask], decided_by: str) -> list[str]:
    return [
        "Automated means: copies of the identified content were found automatically by "
        "hash matching (PDQ perceptual hashes with Meta's thresholds, MD5/SHA-256 digests) "
        f"against this service's catalog ({len(tasks)} found). The decision itself was "
        f"taken by a human reviewer ({decided_by}), not by automated means.",
    ]


def _redress() -> list[str]:
    return [
        "Redress: you may (1) complain through our internal complaint-handling system "
        "within six months of this decision (DSA Art. 20) by replying with your case "
        "number; (2) refer the dispute to a certified out-of-court dispute settlement body "
        "(DSA Art. 21); (3) seek judicial redress before the competent courts. Using one "
        "does not prevent using the others.",
    ]


def decision_notice(state: ServiceState, case_id: str) -> str:
    """The statement of reasons of a decided case (TransitionError while undecided)."""
    with state.db.session() as session:
        row = load_case(session, case_id)
        if row.state not in _DECIDED or row.decided_at is None:
            raise TransitionError(f"case {case_id} is {row.state}: there is no decision yet")
        tasks = list(
            session.scalars(
                select(RemovalTask).where(RemovalTask.request_id == row.id).order_by(RemovalTask.id)
            )
        )
        decided_by = _decider(session, row)
        sections = [
            [
                f"Statement of reasons - case {row.case_id}",
                f"Date of decision: {aware(row.decided_at):%Y-%m-%d %H:%M} UTC",
            ],
            _decision(row, tasks),
            _facts(row, tasks),
            _automation(tasks, decided_by),
            [f"Legal ground: {LEGAL_GROUNDS.get(row.jurisdiction, row.jurisdiction)}."],
            _redress(),
        ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def _decider(session: Session, row: RemovalRequestRow) -> str:
    """Who took the latest decision, from the audit chain."""
    actor = session.scalars(
        select(AuditLogRow.actor)
        .where(
            AuditLogRow.case_id == row.case_id,
            AuditLogRow.action.in_(["case.action", "case.reject"]),
        )
        .order_by(AuditLogRow.seq.desc())
        .limit(1)
    ).first()
    return actor or "reviewer"
