"""Errors of the takedown API that the routes turn into 404s (the rest are the cases
package's :class:`~hashwall.cases.intake.IntakeError` and
:class:`~hashwall.cases.states.TransitionError`)."""

from __future__ import annotations


class TakedownNotFound(LookupError):
    """No removal request with this case number."""

    def __init__(self, case_id: str) -> None:
        super().__init__(f"no removal request {case_id!r}")
        self.case_id = case_id


class TaskNotFound(LookupError):
    """No removal task with this id."""

    def __init__(self, task_id: int) -> None:
        super().__init__(f"no removal task {task_id}")
        self.task_id = task_id
