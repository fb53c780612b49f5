"""Removal requests on the platform side (issue 5): intake, sweep, tasks, decisions, deadlines.

The public Python API the reviewer UI and the HTTP routes use; see docs/takedown.md.
"""

from hashwall.service.takedown.config import use_clock
from hashwall.service.takedown.decisions import confirm_task, decide
from hashwall.service.takedown.errors import TakedownNotFound, TaskNotFound
from hashwall.service.takedown.evidence import evidence_zip
from hashwall.service.takedown.notice import decision_notice
from hashwall.service.takedown.queries import deadline_metrics, get_request, list_requests
from hashwall.service.takedown.regulator import record_esafety_notice
from hashwall.service.takedown.submit import receive_request, submit_request
from hashwall.service.takedown.sweep import run_pending_takedowns, run_takedown_job
from hashwall.service.takedown.views import (
    RequestDetail,
    RequestSummary,
    TakedownReceipt,
    TaskView,
    TimelineEntry,
)

__all__ = [
    "RequestDetail",
    "RequestSummary",
    "TakedownNotFound",
    "TakedownReceipt",
    "TaskNotFound",
    "TaskView",
    "TimelineEntry",
    "confirm_task",
    "deadline_metrics",
    "decide",
    "decision_notice",
    "evidence_zip",
    "get_request",
    "list_requests",
    "receive_request",
    "record_esafety_notice",
    "run_pending_takedowns",
    "run_takedown_job",
    "submit_request",
    "use_clock",
]
