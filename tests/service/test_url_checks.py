"""Stored URLs are http(s) only (issue 14, item 9): catalog items by JSON, upload and bulk
import, and removal requests, each refuse ``javascript:`` and friends with a 422 naming the
field; the reviewer page shows a non-http(s) URL left from before as text, never as a link."""

from __future__ import annotations

import pytest

from hashwall.service.urls import is_web_url, url_problem
from tests.service.conftest import Api
from tests.service.takedown_helpers import raw_request
from tests.service.test_catalog import _jsonl, catalog_import, register
from tests.service.test_uploads_imports import png_bytes

BAD_URLS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/p",
    "https://",
    "http://exa mple.com/",
    "https://example.com/\nx",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_only_http_and_https_urls_with_a_host_are_web_urls(url: str) -> None:
    assert not is_web_url(url)
    assert url_problem(url) is not None


def test_web_urls_and_no_url_are_accepted() -> None:
    for url in ("https://platform.example/p/1?x=1#y", "HTTP://Platform.Example:8080/p"):
        assert is_web_url(url) and url_problem(url) is None
    assert url_problem("") is None  # "no URL" stays allowed
    assert url_problem("https://e.example/" + "a" * 2000) == "must be at most 2000 characters"


def test_catalog_item_with_a_script_url_is_refused(api: Api) -> None:
    refused = register(api, "post/js", url="javascript:alert(1)")
    assert refused.status_code == 422, refused.text
    (problem,) = refused.json()["error"]
    assert problem["field"] == "body.url" and "http:// or https://" in problem["message"]
    assert api.call("GET", "/v1/catalog/items", "reviewer").json()["items"] == []
    assert register(api, "post/ok", url="https://platform.example/p/1").status_code == 201


def test_catalog_upload_with_a_script_url_is_refused(api: Api) -> None:
    response = api.call(
        "POST",
        "/v1/catalog/items/upload",
        "hasher",
        files={"file": ("x.png", png_bytes(1), "image/png")},
        data={"content_id": "upload/js", "url": "data:text/html,<b>x</b>"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "url" and "http:// or https://" in error["message"]


def test_catalog_import_with_a_script_url_is_refused_whole(api: Api) -> None:
    lines = [
        {"content_id": "bulk/0", "url": "https://p.test/0", "signal_type": "md5",
         "signal_value": f"{0:032x}"},
        {"content_id": "bulk/1", "url": "javascript:alert(1)", "signal_type": "md5",
         "signal_value": f"{1:032x}"},
    ]  # fmt: skip
    response = catalog_import(api, _jsonl(*lines))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "file" and error["message"].startswith("file line 2: url must")
    assert api.call("GET", "/v1/catalog/items", "reviewer").json()["items"] == []


def test_removal_request_with_a_script_url_is_refused(api: Api) -> None:
    body = raw_request(urls=["javascript:alert(1)"])
    response = api.client.post("/v1/takedown/requests", json=body)
    assert response.status_code == 422, response.text
    assert "not an http(s) URL" in response.text
