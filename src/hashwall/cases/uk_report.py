"""The UK "intimate image content report", modelled ahead of its regulations.

The Crime and Policing Act 2026 inserts into the Online Safety Act 2023 a duty to take down
intimate image content within 48 hours of a valid *intimate image content report* (s. 20A),
whose required contents regulations will set. Until they are made (and the duty commenced,
``uk_48h_in_force``) this is our reading of what such a report must show, kept in one place so
the intake is ready and one edit follows the regulations. A request that lacks an element
still gets the platform's working deadline; it just claims no UK legal clock. Sources and
status: docs/legal.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashwall.cases.intake import RemovalRequest


@dataclass(frozen=True)
class ReportElement:
    name: str
    description: str
    present: Callable[[RemovalRequest], bool]


UK_REPORT_ELEMENTS: tuple[ReportElement, ...] = (
    ReportElement(
        "reporter",
        "who reports: the person shown, or someone acting for them with their authority",
        lambda r: (
            bool(r.requester_name)
            and (r.relation == "depicted_person" or bool(r.authority_description))
        ),
    ),
    ReportElement(
        "location",
        "where the content is on the service: a URL or content id (a hash alone may not say)",
        lambda r: bool(r.urls or r.catalog_ids),
    ),
    ReportElement(
        "declaration",
        "a declaration that the content is an intimate image of the person shown, shared "
        "without their consent",
        lambda r: r.good_faith is True and r.signature is not None,
    ),
    ReportElement(
        "contact",
        "contact details for the decision",
        lambda r: bool(r.contact_email),
    ),
)


def uk_report_gaps(request: RemovalRequest) -> list[str]:
    """The elements of a UK intimate image content report this request lacks (empty: none)."""
    return [element.name for element in UK_REPORT_ELEMENTS if not element.present(request)]
