"""The notice tool in headless Chromium against a real ``hashwall serve``: a survivor fills in
the form (one mistake first, kept and explained), sees the notices, downloads one, and marks a
URL as sent; nothing is blocked by the CSP and no script fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.web.test_reviewer_browser import Server, expect, server

__all__ = ["server"]
URL = "https://pics.example/p/7"
NOTICE = '[id="notice-pics.example-take_it_down"]'


def _fill(page: Any) -> None:
    page.fill("#requester_name", "Robin Sample")
    page.fill("#requester_email", "robin-at-example")  # the mistake
    page.select_option("#jurisdiction", "US")
    page.check("input[name=relation][value=depicted_person]")
    page.fill("#description", "A synthetic test photograph.")
    page.fill("#hosts-0-name", "pics.example")
    page.fill("#hosts-0-contact", "abuse@pics.example")
    page.select_option("#hosts-0-jurisdiction", "US")
    page.fill("#hosts-0-urls", URL)
    page.fill("#signature", "Robin Sample")


def test_form_to_notices_and_a_download_in_the_browser(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Refused to" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{server.url}/notices")
    _fill(page)
    page.click("#write")
    assert "is not an email address" in page.inner_text("#requester_email-error")
    assert page.input_value("#hosts-0-urls") == URL
    page.fill("#requester_email", "robin@example.org")
    page.click("#write")

    notice = page.locator(NOTICE)
    assert "TAKE IT DOWN Act request" in notice.locator("h4").inner_text()
    assert URL in notice.locator("pre").inner_text()
    assert "TAKE IT DOWN removal form" in notice.locator("dl.facts").inner_text()
    assert "the FTC's complaint page" in page.inner_text("#guidance")
    assert page.locator('[id="notice-pics.example-dmca"]').count() == 0
    assert "intact" in page.inner_text("#audit-status")

    with page.expect_download() as download:
        notice.locator('button[value$=".txt"]').click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "pics.example-take_it_down.txt"
    assert URL in saved.read_text(encoding="utf-8")

    page.fill("#date-0-0", "2026-05-19")
    page.click('button[value="0-0:sent"]')
    assert "Recorded: sent on 2026-05-19" in page.inner_text("#message")
    expect(page.locator("#url-0-0 td.sent")).to_have_text("2026-05-19")
    with page.expect_download() as case_file:
        page.click("#download-case")
    kept = tmp_path / case_file.value.suggested_filename
    case_file.value.save_as(kept)
    assert "sent: '2026-05-19'" in kept.read_text(encoding="utf-8")
    assert problems == []
    context.close()
