"""The removal-request form and the reviewer pages in headless Chromium, against a real
``hashwall serve`` (so the CLI's app factory, the CSP and the cookies are all the real ones).

A requester fills in the public form (one mistake first: the page shows the message next to
the field and keeps what was typed), gets a receipt; a reviewer logs in with an API key, sees
the case in the deadline queue, starts the review, actions it, and reads the audit timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.server_support import create_keys, serve
from tests.service.test_api_core import PDQ_A

#: Playwright's assertions retry until the page shows the expected state (or time out), where a
#: plain ``count()`` or ``inner_text()`` would read a page that is still loading.
expect = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").expect

SECRET = "reviewer-e2e-secret-0123456789"


#: A thumbnail on a host that never resolves (``.invalid``): nothing is fetched in the test.
THUMBNAIL = "https://thumbs.invalid/p42.jpg"


@dataclass
class Server:
    url: str
    reviewer_key: str
    hasher_key: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("jinja2", reason="the server extra is not installed")
    data_dir = tmp_path_factory.mktemp("review-serve")
    reviewer, hasher = create_keys(data_dir, SECRET, ("reviewer", "riley"), ("hasher", "platform"))
    with serve(data_dir, SECRET) as url:
        yield Server(url, reviewer, hasher)


def _fill_request(page: Any) -> None:
    page.fill("#requester_name", "Robin Sample")
    page.fill("#contact_email", "robin@example.org")
    page.check("input[name=relation][value=depicted_person]")
    page.fill("#urls", "https://platform.example/p/42")
    page.select_option("#jurisdiction", "US")
    page.check("input[name=good_faith]")
    page.fill("#signature", "Robin Sample")


def _host_item(server: Server) -> None:
    """The platform's copy of the reported picture, with its own thumbnail URL."""
    item = {
        "content_id": "p/42",
        "url": "https://platform.example/p/42",
        "hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}],
        "metadata": {"thumbnail_url": THUMBNAIL},
    }
    headers = {"X-API-Key": server.hasher_key}
    response = httpx.post(f"{server.url}/v1/catalog/items", json=item, headers=headers)
    assert response.status_code == 201, response.text


def test_request_to_actioned_case_in_the_browser(browser: Any, server: Server) -> None:
    _host_item(server)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []  # CSP violations and script errors (not the 422 of a bad form)
    page.on("console", lambda m: problems.append(m.text) if "Refused to" in m.text else None)
    page.route("https://thumbs.invalid/**", lambda route: route.abort())  # never leaves
    page.on("pageerror", lambda error: problems.append(str(error)))

    # The requester: a mistake first, then a valid request.
    page.goto(f"{server.url}/takedown")
    _fill_request(page)
    page.fill("#contact_email", "robin-at-example")
    page.click("button[type=submit]")
    assert "is not an email address" in page.inner_text("#contact_email-error")
    assert page.input_value("#requester_name") == "Robin Sample"
    assert page.input_value("#urls") == "https://platform.example/p/42"
    page.fill("#contact_email", "robin@example.org")
    page.fill("#hashes", f"pdq,{PDQ_A}")
    page.check("input[name=good_faith]")
    page.click("button[type=submit]")
    case_id = page.inner_text("#case-number").strip()
    assert case_id.startswith("C-") and "our own target" in page.inner_text("#due-at")

    # The reviewer: log in with the API key, find the case in the queue.
    page.goto(f"{server.url}/review")
    assert page.url.endswith("/review/login")
    page.fill("#api_key", server.reviewer_key)
    page.click("button[type=submit]")
    # ``click`` returns once the next page starts loading: wait for the queue itself to render.
    row = page.locator(f'tr[data-case="{case_id}"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("received")
    expect(row.locator(".badge")).to_contain_text("due")
    row.locator("a").click()

    # The copy found in the catalog, its thumbnail blurred and grey until clicked.
    image = page.locator("#tasks .thumb img")
    assert image.get_attribute("src") == THUMBNAIL
    assert "blur" in image.evaluate("i => getComputedStyle(i).filter")
    page.click("#tasks .thumb .reveal")
    assert page.get_attribute("#tasks .thumb .reveal", "aria-pressed") == "true"
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#tasks .thumb img')).filter === 'none'",
        timeout=5000,
    )  # revealed once the short CSS transition ends

    # Start review, then action it; each step lands on the case page and in the timeline.
    page.click("button[name=event][value=start_review]")
    expect(page.locator("#case-state")).to_have_text("under review")
    page.click("button[name=event][value=action]")
    expect(page.locator("#case-state")).to_have_text("actioned")
    timeline = page.inner_text("#timeline")
    for action in ("case.received", "case.start_review", "case.action"):
        assert action in timeline
    assert "reviewer:riley" in timeline
    expect(page.locator("#notice-link")).to_have_count(1)
    assert problems == []  # nothing blocked by the CSP, no script errors
    context.close()
