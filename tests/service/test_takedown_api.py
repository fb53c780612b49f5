"""The takedown Python API: intake, queue, case view, decisions, notice, metrics."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hashwall.cases.intake import IntakeError
from hashwall.cases.states import TransitionError
from hashwall.service.settings import Settings
from hashwall.service.takedown import (
    TakedownNotFound,
    confirm_task,
    deadline_metrics,
    decide,
    decision_notice,
    get_request,
    list_requests,
    submit_request,
    use_clock,
)
from hashwall.store import Entry, EntryState
from hashwall.store.takedown_models import RemovalRequestRow
from tests.service.conftest import Api
from tests.service.takedown_helpers import (
    FakeClock,
    add_catalog_upload,
    jpeg_bytes,
    png_bytes,
    raw_request,
    service_state,
)

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def count_cases(api: Api) -> int:
    with service_state(api).db.session() as session:
        return int(session.scalar(select(func.count()).select_from(RemovalRequestRow)) or 0)


def test_invalid_request_names_every_field_and_stores_nothing(api: Api) -> None:
    state = service_state(api)
    bad = raw_request(contact_email="nope", good_faith=False)
    del bad["jurisdiction"]
    with pytest.raises(IntakeError) as caught:
        submit_request(state, bad)
    fields = {error.field for error in caught.value.errors}
    assert {"contact_email", "good_faith", "jurisdiction"} <= fields
    with pytest.raises(IntakeError) as broken:
        submit_request(state, raw_request(), upload=b"not a picture", upload_name="x.jpg")
    assert [e.field for e in broken.value.errors] == ["upload"]
    assert count_cases(api) == 0


def test_intake_queue_view_and_decisions(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    # A US covered platform only: every valid request gets the 48 h of 47 U.S.C. s. 223a(a)(3).
    api = api_factory(settings.model_copy(update={"takedown_regimes": "US"}))
    state = service_state(api)
    clock = FakeClock()
    use_clock(state, clock)
    add_catalog_upload(api, "copy-1", jpeg_bytes(5, 60))
    receipt = submit_request(state, raw_request(), upload=png_bytes(5), upload_name="me.png")
    assert receipt.tasks_created == 1
    assert receipt.due_at - receipt.received_at == timedelta(hours=48)
    assert receipt.statutory_deadline and receipt.jurisdiction == "US"
    assert receipt.legal_due_at == receipt.due_at and "223a(a)(3)" in receipt.deadline_basis
    clock.advance(timedelta(hours=1))
    eu = submit_request(
        state, raw_request(jurisdiction="EU", hashes=[{"signal_type": "pdq", "signal_value": PDQ}])
    )
    assert eu.tasks_created == 0
    # Where the requester lives does not change the platform's duty.
    assert eu.due_at - eu.received_at == timedelta(hours=48) and eu.statutory_deadline

    queue = list_requests(state)
    assert [s.case_id for s in queue] == [receipt.case_id, eu.case_id]  # earliest due first
    assert queue[0].deadline_state == "due" and queue[0].time_left == timedelta(hours=47)
    assert list_requests(state, states=["closed"]) == []

    detail = get_request(state, receipt.case_id, actor="reviewer:ann")
    assert detail.request["requester_name"] == "Alex Example"
    assert [t.content_id for t in detail.tasks] == ["copy-1"]
    assert detail.tasks[0].status == "pending"
    actions = [entry.action for entry in detail.timeline]
    assert actions == ["case.received", "task.created", "case.swept", "case.viewed"]
    assert detail.allowed_events == ["start_review", "withdraw"]

    with pytest.raises(TransitionError):
        decide(state, receipt.case_id, "action", actor="reviewer:ann")
    with pytest.raises(TransitionError, match="unknown event"):
        decide(state, receipt.case_id, "obliterate", actor="reviewer:ann")
    with pytest.raises(TakedownNotFound):
        decide(state, "C-20260101-NOTHERE2", "start_review", actor="reviewer:ann")
    decide(state, receipt.case_id, "start_review", actor="reviewer:ann")
    clock.advance(timedelta(hours=1))
    actioned = decide(state, receipt.case_id, "action", actor="reviewer:ann")
    assert actioned.state == "actioned" and actioned.decided_at == clock.now()
    assert actioned.deadline_state == "met"
    with pytest.raises(TransitionError, match="not confirmed"):
        decide(state, receipt.case_id, "notify", actor="reviewer:ann")
    confirm_task(state, actioned.tasks[0].id, actor="platform")
    decide(state, receipt.case_id, "notify", actor="reviewer:ann")
    closed = decide(state, receipt.case_id, "close", actor="reviewer:ann")
    assert closed.state == "closed" and closed.tasks_confirmed == 1
    notice = decision_notice(state, receipt.case_id)
    for part in ("courts", "hash matching", "TAKE IT DOWN", "223a", "human reviewer"):
        assert part in notice
    # It goes to the uploader: no reviewer, requester, other copies; no DSA redress for a US case.
    for leak in ("reviewer:ann", "Alex Example", "copy-1", "Art. 20", "Art. 21"):
        assert leak not in notice

    clock.advance(timedelta(hours=50))
    metrics = deadline_metrics(state)
    assert metrics["overdue"] == 1 and metrics["open"] == 1 and metrics["met"] == 1


def test_rejection_unblocks_the_hashes_and_needs_a_reason(api: Api) -> None:
    state = service_state(api)
    receipt = submit_request(
        state, raw_request(hashes=[{"signal_type": "pdq", "signal_value": PDQ}])
    )
    decide(state, receipt.case_id, "start_review", actor="reviewer:bo")
    with pytest.raises(TransitionError, match="reason"):
        decide(state, receipt.case_id, "reject", actor="reviewer:bo")
    rejected = decide(state, receipt.case_id, "reject", actor="reviewer:bo", reason="Not intimate.")
    assert rejected.rejection_reason == "Not intimate."
    with state.db.session() as session:
        states = set(session.scalars(select(Entry.state).where(Entry.case_ref == receipt.case_id)))
    assert states == {EntryState.WITHDRAWN}
    assert "Not intimate." in decision_notice(state, receipt.case_id)


def test_copy_registered_after_the_case_becomes_a_task_of_it(api: Api) -> None:
    """A re-upload the platform registers after the request is still a copy to remove."""
    from hashwall.service.takedown.sweep import task_late_copies

    state = service_state(api)
    receipt = submit_request(state, raw_request(), upload=png_bytes(7), upload_name="me.png")
    assert receipt.tasks_created == 0
    other = submit_request(state, raw_request(), upload=png_bytes(8), upload_name="other.png")
    decide(state, other.case_id, "withdraw", actor="requester")
    add_catalog_upload(api, "late-copy", jpeg_bytes(7, 50))
    add_catalog_upload(api, "copy-of-withdrawn", jpeg_bytes(8, 50))
    assert task_late_copies(state) == 1
    assert task_late_copies(state) == 0  # once only
    detail = get_request(state, receipt.case_id, actor="reviewer:ann")
    assert [task.content_id for task in detail.tasks] == ["late-copy"]
    assert "task.created" in [entry.action for entry in detail.timeline]
    assert get_request(state, other.case_id, actor="reviewer:ann").tasks == []
