"""A catalog URL that is not http(s) (stored before URLs were checked) is shown on
``/review/matches/{id}`` as plain text, never as a link (issue 14, item 9); the public form's
receipt is the same whether or not the named URL is hosted here (item 14)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("jinja2", reason="the server extra is not installed")

from sqlalchemy import update

from hashwall.store.catalog_models import CatalogItem
from tests.service.conftest import database_url
from tests.web.test_reviewer_pages import CSRF, Web, _review_item, _valid_form, web

__all__ = ["database_url", "web"]


def _set_url(web: Web, url: str) -> None:
    db = web.client.app.state.hashwall.db  # type: ignore[attr-defined]
    with db.session() as session:
        session.execute(update(CatalogItem).values(url=url))


def test_script_url_renders_as_text_not_link(web: Web) -> None:
    review_id = _review_item(web, "https://cdn.platform.example/t/1.jpg")
    _set_url(web, "javascript:alert(document.cookie)")
    web.login("reviewer")
    page = web.client.get(f"/review/matches/{review_id}")
    assert page.status_code == 200
    assert 'href="javascript:' not in page.text
    assert '<span class="not-a-link">javascript:alert(document.cookie)</span>' in page.text


def test_web_url_still_renders_as_link(web: Web) -> None:
    review_id = _review_item(web, "https://cdn.platform.example/t/1.jpg")
    web.login("reviewer")
    page = web.client.get(f"/review/matches/{review_id}")
    assert '<a href="https://platform.example/p/1" rel="noreferrer noopener">' in page.text


def _receipt(web: Web, url: str) -> str:
    page = web.client.post("/takedown", data=_valid_form(web.csrf("/takedown"), urls=url))
    assert page.status_code == 200, page.text
    return re.sub(r"[^<>]*\d[^<>]*", "", CSRF.sub("", page.text))  # drop case number, times


def test_form_receipt_is_the_same_for_hosted_and_unknown_urls(web: Web) -> None:
    item = {"content_id": "hosted/1", "url": "https://platform.example/p/1",
            "hashes": [{"signal_type": "md5", "signal_value": "0" * 32}]}  # fmt: skip
    assert web.api("POST", "/v1/catalog/items", "hasher", json=item).status_code == 201
    hosted = _receipt(web, "https://platform.example/p/1")
    unknown = _receipt(web, "https://platform.example/p/2")
    assert hosted == unknown and "Copies found" not in hosted
