"""The reviewer pages and the public removal-request form, through FastAPI's TestClient.

Log-in with an API key into a signed session cookie, role checks (403 pages), CSRF rejection
on every kind of form, match-record review and bank management through the service's own
functions, and the public form: one message per bad field, the user's values kept, nothing
stored on invalid input, a receipt on valid input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jinja2", reason="the server extra is not installed")

from fastapi.testclient import TestClient

from hashwall.service.settings import Settings
from hashwall.web.app import create_app
from hashwall.web.review import session as sessions
from tests.service.conftest import SECRET, database_url, make_keys
from tests.service.test_api_core import PDQ_A, flip

__all__ = ["database_url"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Web:
    client: TestClient
    keys: dict[str, str]

    def api(self, method: str, url: str, role: str = "admin", **kwargs: Any) -> Any:
        headers = {"X-API-Key": self.keys[role]}
        return self.client.request(method, url, headers=headers, **kwargs)

    def csrf(self, url: str) -> str:
        page = self.client.get(url)
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found, f"no CSRF field on {url}"
        return found.group(1)

    def login(self, role: str) -> None:
        token = self.csrf("/review/login")
        form = {"csrf": token, "api_key": self.keys[role]}
        response = self.client.post("/review/login", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
        assert sessions.COOKIE in response.cookies


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[Web]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        change_poll_seconds=0.1,
    )
    keys = make_keys(settings)
    with TestClient(create_app(settings)) as client:
        yield Web(client, keys)


# ---------------------------------------------------------------------- log-in and sessions


def test_pages_need_a_login(web: Web) -> None:
    for url in ("/review/matches", "/review/banks", "/review/matches/1"):
        response = web.client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/review/login"


def test_login_sets_a_strict_signed_session_cookie(web: Web) -> None:
    token = web.csrf("/review/login")
    response = web.client.post(
        "/review/login",
        data={"csrf": token, "api_key": web.keys["reviewer"]},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/review"
    cookie = next(
        v for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith(f"{sessions.COOKIE}=")
    )  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/review" in cookie
    assert web.keys["reviewer"] not in cookie  # the key itself never goes into the cookie
    page = web.client.get("/review/matches")
    assert page.status_code == 200 and "reviewer (reviewer)" in page.text
    assert "Content-Security-Policy" in page.headers and page.headers["cache-control"] == "no-store"


def test_login_refuses_bad_keys_and_roles_without_pages(web: Web) -> None:
    token = web.csrf("/review/login")
    bad = web.client.post("/review/login", data={"csrf": token, "api_key": "hw_nope"})
    assert bad.status_code == 401 and "not valid or was revoked" in bad.text
    empty = web.client.post("/review/login", data={"csrf": token, "api_key": ""})
    assert empty.status_code == 422 and "Enter your API key" in empty.text
    matcher = web.client.post("/review/login", data={"csrf": token, "api_key": web.keys["matcher"]})
    assert matcher.status_code == 403 and "matcher role have no reviewer pages" in matcher.text
    assert sessions.COOKIE not in web.client.cookies


def test_login_without_the_form_token_is_refused(web: Web) -> None:
    web.csrf("/review/login")  # the cookie half is there, the form half is not
    response = web.client.post("/review/login", data={"api_key": web.keys["reviewer"]})
    assert response.status_code == 403 and "expired or did not come from this site" in response.text
    forged = web.client.post(
        "/review/login", data={"csrf": "forged.token", "api_key": web.keys["reviewer"]}
    )
    assert forged.status_code == 403


def test_tampered_or_expired_session_is_no_session(web: Web) -> None:
    web.login("reviewer")
    good = web.client.cookies[sessions.COOKIE]
    web.client.cookies.set(sessions.COOKIE, good[:-2] + "xx", path="/review")
    assert web.client.get("/review/matches", follow_redirects=False).status_code == 303
    assert sessions.read(SECRET, good, now=10**12) is None  # past its expiry
    assert sessions.read("another-secret-0123456789", good, now=0) is None


def test_revoking_the_key_ends_the_session(web: Web) -> None:
    web.login("reviewer")
    assert web.client.get("/review/matches").status_code == 200
    keys = web.api("GET", "/v1/keys").json()
    key_id = next(k["id"] for k in keys if k["name"] == "reviewer")
    assert web.api("DELETE", f"/v1/keys/{key_id}").status_code in (200, 204)
    assert web.client.get("/review/matches", follow_redirects=False).status_code == 303


def test_logout_needs_the_token_and_clears_the_cookie(web: Web) -> None:
    web.login("reviewer")
    refused = web.client.post("/review/logout", data={"csrf": "nope"})
    assert refused.status_code == 403
    token = web.csrf("/review/matches")
    done = web.client.post("/review/logout", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and sessions.COOKIE not in web.client.cookies
    assert web.client.get("/review/matches", follow_redirects=False).status_code == 303


# ---------------------------------------------------------------------- roles


def test_curator_manages_banks_but_not_queues(web: Web) -> None:
    web.login("curator")
    assert web.client.get("/review/banks").status_code == 200
    for url in ("/review/matches",):
        page = web.client.get(url)
        assert page.status_code == 403 and "Your role (curator) may not use this page" in page.text


def test_reviewer_cannot_manage_banks(web: Web) -> None:
    web.login("reviewer")
    token = web.csrf("/review/matches")
    assert web.client.get("/review/banks").status_code == 403
    posted = web.client.post("/review/banks", data={"csrf": token, "name": "x"})
    assert posted.status_code == 403
    assert web.api("GET", "/v1/banks").json() == []


# ---------------------------------------------------------------------- banks


def test_bank_create_rename_disable_and_threshold(web: Web) -> None:
    web.login("curator")
    token = web.csrf("/review/banks")
    form = {"csrf": token, "name": "ncii", "description": "reported", "pdq_threshold": "20",
            "action": "review"}  # fmt: skip
    created = web.client.post("/review/banks", data=form, follow_redirects=False)
    assert created.status_code == 303
    (bank,) = web.api("GET", "/v1/banks").json()
    assert (bank["name"], bank["pdq_threshold"], bank["action"]) == ("ncii", 20, "review")
    assert bank["enabled"] and not bank["negative"]
    update = {"csrf": token, "name": "ncii-2026", "pdq_threshold": "12", "action": ""}
    saved = web.client.post(f"/review/banks/{bank['id']}", data=update, follow_redirects=False)
    assert saved.status_code == 303
    bank = web.api("GET", f"/v1/banks/{bank['id']}").json()
    assert (bank["name"], bank["pdq_threshold"], bank["action"], bank["enabled"]) == (
        "ncii-2026", 12, None, False,
    )  # fmt: skip
    assert "ncii-2026" in web.client.get("/review/banks").text


def test_bank_form_errors_name_the_field_and_keep_values(web: Web) -> None:
    web.login("admin")
    token = web.csrf("/review/banks")
    bad = {"csrf": token, "name": "", "pdq_threshold": "40", "description": "kept text"}
    page = web.client.post("/review/banks", data=bad)
    assert page.status_code == 422
    assert page.text.count('class="field-error"') == 2 and "kept text" in page.text
    web.client.post("/review/banks", data={**bad, "name": "dup", "pdq_threshold": "31"})
    again = web.client.post("/review/banks", data={**bad, "name": "dup", "pdq_threshold": "31"})
    assert again.status_code == 409 and "already exists" in again.text
    assert [b["name"] for b in web.api("GET", "/v1/banks").json()] == ["dup"]
    missing = web.client.post("/review/banks/999", data={"csrf": token, "name": "x",
                                                          "pdq_threshold": "3"})  # fmt: skip
    assert missing.status_code == 404
    stale = web.client.post("/review/banks", data={**bad, "csrf": "old", "name": "x"})
    assert stale.status_code == 403


# ---------------------------------------------------------------------- match records


def _review_item(web: Web, thumbnail: str) -> int:
    bank = web.api("POST", "/v1/banks", json={"name": "ncii", "action": "review"}).json()
    item = {
        "content_id": "hosted/1",
        "url": "https://platform.example/p/1",
        "hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}],
        "metadata": {"thumbnail_url": thumbnail},
    }
    assert web.api("POST", "/v1/catalog/items", "hasher", json=item).status_code == 201
    entry = {"hashes": [{"signal_type": "pdq", "signal_value": flip(PDQ_A, 3)}]}
    assert web.api("POST", f"/v1/banks/{bank['id']}/entries", json=entry).status_code == 201
    (review,) = web.api("GET", "/v1/reviews", "reviewer").json()["reviews"]
    return int(review["id"])


def test_match_review_confirm_with_blurred_thumbnail(web: Web) -> None:
    review_id = _review_item(web, "https://cdn.platform.example/t/1.jpg")
    web.login("reviewer")
    queue = web.client.get("/review/matches")
    assert f"/review/matches/{review_id}" in queue.text
    page = web.client.get(f"/review/matches/{review_id}")
    assert page.status_code == 200 and "hosted/1" in page.text
    assert 'src="https://cdn.platform.example/t/1.jpg"' in page.text
    assert 'class="reveal" aria-pressed="false"' in page.text  # blurred until clicked
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    forged = web.client.post(
        f"/review/matches/{review_id}/decision", data={"decision": "confirmed"}
    )
    assert forged.status_code == 403
    assert web.api("GET", f"/v1/reviews/{review_id}", "reviewer").json()["status"] == "pending"
    decided = web.client.post(
        f"/review/matches/{review_id}/decision",
        data={"csrf": token, "decision": "confirmed", "note": "seen"},
    )
    assert decided.status_code == 200 and '<dd id="review-status">confirmed</dd>' in decided.text
    again = web.client.post(
        f"/review/matches/{review_id}/decision", data={"csrf": token, "decision": "confirmed"}
    )
    assert again.status_code == 409 and "already decided (confirmed)" in again.text
    assert web.client.get("/review/matches/999").status_code == 404


def test_match_claimed_by_another_reviewer_cannot_be_decided(web: Web) -> None:
    review_id = _review_item(web, "javascript:alert(1)")
    assert web.api("POST", f"/v1/reviews/{review_id}/claim", "admin").status_code == 200
    web.login("reviewer")
    page = web.client.get(f"/review/matches/{review_id}")
    assert "javascript:" not in page.text and "<figure" not in page.text  # https only
    token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
    refused = web.client.post(
        f"/review/matches/{review_id}/decision",
        data={"csrf": token, "decision": "false_positive"},
    )
    assert refused.status_code == 409 and "claimed by another reviewer" in refused.text
    invalid = web.client.post(
        f"/review/matches/{review_id}/decision", data={"csrf": token, "decision": "maybe"}
    )
    assert invalid.status_code == 400
