"""What the pull exchanges (NCMEC, ThreatExchange) share: one applied page and its counts, and
turning an upstream failure into a 502 that names the source but never the credentials.

pytx's clients raise ``requests`` errors for HTTP failures and bare ``Exception``/``KeyError``
for a page they cannot parse. Either way the pages applied before it are committed with their
checkpoints, so the message says the next run resumes there. ``requests`` puts the URL in its
messages and ThreatExchange's URL carries the access token, so only the error's type and HTTP
status are logged or returned.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import requests

from hashwall.net.egress import vet
from hashwall.service.errors import ApiError
from hashwall.service.exchange.apply import ApplyResult
from hashwall.service.settings import Settings
from hashwall.store import Bank, Database

log = logging.getLogger("hashwall.service.exchange.feed")
T = TypeVar("T")


@dataclass
class FetchedPage:
    """One committed page: what applying it did, and the signals it carried that hashwall
    does not use (by the source's name for them, e.g. NCMEC's ``sha1``)."""

    result: ApplyResult
    ignored_signals: Counter[str] = field(default_factory=Counter)


@dataclass
class FetchTotals:
    """The sum of a run's pages, for the API answer and the CLI summary."""

    result: ApplyResult = field(default_factory=ApplyResult)
    ignored_signals: Counter[str] = field(default_factory=Counter)
    pages: int = 0

    def add(self, page: FetchedPage) -> None:
        self.result.merge(page.result)
        self.ignored_signals.update(page.ignored_signals)
        self.pages += 1

    def details(self) -> dict[str, object]:
        return {"pages": self.pages, "ignored_signals": dict(sorted(self.ignored_signals.items()))}


def check_egress(settings: Settings, url: str, source: str) -> None:
    """409 when a source's configured URL leads to an address the server must not call: the
    rules of webhooks (:mod:`hashwall.net.egress`), so a base URL pointing at a
    NAT64 form of 169.254.169.254 is refused too. The message names the address only."""
    refused = vet(url, allow_private=settings.webhooks_may_reach_private).refused
    if refused is not None:
        raise ApiError(409, f"{source} is not reachable from this server: {refused}", "url")


def require_bank(db: Database, bank_id: int) -> None:
    with db.session() as session:
        if session.get(Bank, bank_id) is None:
            raise ApiError(404, f"no bank with id {bank_id}", "bank_id")


def upstream(pages: Iterator[T], source: str, field_name: str) -> Iterator[T]:
    """Yield ``pages`` (a pytx fetch iterator), raising a 502 :class:`ApiError` on failure."""
    while True:
        try:
            page = next(pages)
        except StopIteration:
            return
        except requests.RequestException as error:
            status = getattr(getattr(error, "response", None), "status_code", None)
            log.warning("%s fetch failed: %s (HTTP %s)", source, type(error).__name__, status)
            raise ApiError(
                502,
                f"{source} did not answer the fetch ({type(error).__name__}, HTTP {status}); "
                "pages before it are kept and the next run resumes there",
                field_name,
            ) from None
        except Exception as error:  # pytx: bare Exception/KeyError for an unreadable page
            log.warning("%s sent a page pytx cannot read: %s", source, type(error).__name__)
            raise ApiError(
                502,
                f"{source} sent a page that could not be read ({type(error).__name__}); "
                "pages before it are kept and the next run resumes there",
                field_name,
            ) from None
        yield page
