"""The statement of reasons for a decided case, as plain text, for the uploader.

Built only from the stored case, its tasks and its audit entries, so the statement can never
say more than the record shows. It goes to the person whose content was removed (DSA Art. 17(1)),
so it names no reviewer, no requester and no other copy or uploader. Art. 17(3) asks for: (a)
what was decided and its scope, (b) the facts relied on, including that it followed a notice,
(c) whether automated means were used, (d)-(e) the legal ground, and (f) the redress open to
the recipient. The redress of DSA Arts 20-21 is printed for EU cases only, with the Art. 19
exemption of micro and small enterprises. Every citation is sourced in docs/legal.md. It is a
template, not advice.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.cases.audit_db import AuditLogRow
from hashwall.cases.states import TransitionError
from hashwall.service.takedown.config import aware
from hashwall.service.takedown.queries import load_case
from hashwall.store.takedown_models import RemovalRequestRow, RemovalTask

if TYPE_CHECKING:
    from hashwall.service.state import ServiceState

LEGAL_GROUNDS = {
    "US": "47 U.S.C. § 223a (section 3 of the TAKE IT DOWN Act, Pub. L. 119-12): removal of a "
    "nonconsensual intimate visual depiction upon a valid request of the person depicted",
    "AU": "Online Safety Act 2021 (Cth) s 75 (posting, or threatening to post, an intimate "
    "image of a person without their consent)",
    "UK": "the offence of sharing an intimate photograph or film without consent: Sexual "
    "Offences Act 2003 s. 66B (England and Wales), Abusive Behaviour and Sexual Harm "
    "(Scotland) Act 2016 s. 2 (Scotland), Justice Act (Northern Ireland) 2016 s. 51 (Northern "
    "Ireland); and the illegal-content duties of the Online Safety Act 2023 (s. 10)",
}
EU_GROUND = (
    "a notice of illegal content under Art. 16 of Regulation (EU) 2022/2065 (Digital "
    "Services Act). The content is illegal under {provision}. (Directive (EU) 2024/1385 Art. 5 "
    "obliges the Member States to make the non-consensual sharing of intimate images an offence "
    "by 14 June 2027; it creates no offence by itself.)"
)
EU_PROVISION_MISSING = (
    "the national law of the Member State concerned that prohibits sharing intimate images "
    "without consent; the provision was not named with this decision"
)
_DECIDED = ("actioned", "rejected", "requester_notified", "appealed", "closed")


def _decision(row: RemovalRequestRow, tasks: list[RemovalTask]) -> list[str]:
    if row.rejection_reason is None:
        return [
            "Decision: the content identified in the notice was found to be illegal and access "
            "to it was removed. The removal is permanent and applies worldwide; the content's "
            "hashes are kept in a block list so that re-uploads are refused.",
        ]
    return [
        "Decision: no action was taken on the content identified in the notice.",
        f"Reason: {row.rejection_reason}",
    ]


def _facts(row: RemovalRequestRow) -> list[str]:
    return [
        f"Facts: the decision was taken following a notice (case {row.case_id}) received on "
        f"{aware(row.received_at):%Y-%m-%d %H:%M} UTC, stating in good faith that the "
        "intimate image was shared without the consent of the person shown.",
    ]


def _automation(tasks: list[RemovalTask]) -> list[str]:
    detected = (
        "The content was identified by hash matching (PDQ perceptual hashes with Meta's "
        "thresholds, MD5/SHA-256 digests) against the hashes of the notice."
        if tasks
        else "No automated means were used to identify the content."
    )
    return [
        f"Automated means: {detected} The decision itself was taken by a human reviewer, "
        "not by automated means.",
    ]


def _legal_ground(row: RemovalRequestRow, eu_provision: str | None) -> list[str]:
    if row.jurisdiction == "EU":
        ground = EU_GROUND.format(provision=eu_provision or EU_PROVISION_MISSING)
    else:
        ground = LEGAL_GROUNDS.get(row.jurisdiction, row.jurisdiction)
    return [f"Legal ground: {ground}."]


def _redress(row: RemovalRequestRow) -> list[str]:
    if row.jurisdiction != "EU":
        return [
            "Redress: if you believe this decision is wrong, reply with the case number to ask "
            "for it to be reviewed again; you may also seek redress before the competent "
            "courts.",
        ]
    return [
        "Redress: you may (1) complain through our internal complaint-handling system "
        "within six months of this decision (DSA Art. 20) by replying with your case "
        "number; (2) refer the dispute to a certified out-of-court dispute settlement body "
        "(DSA Art. 21); (3) seek judicial redress before the competent courts. Using one "
        "does not prevent using the others. (Arts 20 and 21 do not bind micro and small "
        "enterprises, DSA Art. 19; where we are one, the reply and the courts remain open.)",
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
        provision = _named_provision(session, row) or state.settings.takedown_eu_legal_ground
        sections = [
            [
                f"Statement of reasons - case {row.case_id}",
                f"Date of decision: {aware(row.decided_at):%Y-%m-%d %H:%M} UTC",
            ],
            _decision(row, tasks),
            _facts(row),
            _automation(tasks),
            _legal_ground(row, provision),
            _redress(row),
        ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


def _named_provision(session: Session, row: RemovalRequestRow) -> str | None:
    """The national provision the reviewer named with the latest action, if any."""
    text = session.scalars(
        select(AuditLogRow.data)
        .where(AuditLogRow.case_id == row.case_id, AuditLogRow.action == "case.action")
        .order_by(AuditLogRow.seq.desc())
        .limit(1)
    ).first()
    data = json.loads(text) if text else None
    if not isinstance(data, dict):
        return None
    provision = data.get("legal_ground")
    return provision if isinstance(provision, str) and provision.strip() else None
