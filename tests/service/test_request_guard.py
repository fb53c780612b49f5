"""Issue 14, items 2 and 11: body limits count streamed bytes on every route (chunked or not),
a route that needs a key refuses a missing or bad key before reading any of the body, each
route has the limit it needs, and JSON routes read only ``application/json`` (415).

The attacks are replayed with bounded sizes through an ASGI driver that counts how many
chunks of the body the server pulled before answering."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hashwall.service.settings import Settings
from tests.server_support import serve
from tests.service.abuse_support import (
    MULTIPART,
    drive,
    endless,
    multipart_file,
    stream_chunked,
)
from tests.service.conftest import Api
from tests.service.takedown_helpers import raw_request

CHUNK = 64 * 1024
JSON = {"content-type": "application/json"}
CHUNKED = {"transfer-encoding": "chunked"}


def test_chunked_body_without_key_is_refused_before_any_byte_is_read(api: Api) -> None:
    # The report: 300 MiB of chunked JSON to POST /v1/banks without a key, read whole (+1.86
    # GB) and answered 401 after 18 s.
    driven = drive(api.client.app, "POST", "/v1/banks", {**JSON, **CHUNKED}, endless())
    assert driven.status == 401
    assert driven.json()["error"]["field"] == "X-API-Key"
    assert driven.chunks_read == 0


def test_unknown_key_and_wrong_role_are_refused_before_the_body(api: Api) -> None:
    bad = drive(
        api.client.app, "POST", "/v1/banks", {**JSON, **CHUNKED, "x-api-key": "hw_nope"}, endless()
    )
    assert (bad.status, bad.chunks_read) == (401, 0)
    matcher = {**JSON, **CHUNKED, "x-api-key": api.keys["matcher"]}
    wrong_role = drive(api.client.app, "POST", "/v1/banks", matcher, endless())
    assert (wrong_role.status, wrong_role.chunks_read) == (403, 0)
    assert "banks:write" in wrong_role.json()["error"]["message"]


def test_large_json_within_the_old_limit_without_a_key_is_not_read(api: Api) -> None:
    # The report: a 60 MB JSON body (under the old 64 MiB limit) without a key cost 390 MB.
    declared = {**JSON, "content-length": str(60 * 1024 * 1024)}
    driven = drive(api.client.app, "POST", "/v1/banks", declared, endless(count=960))
    assert (driven.status, driven.chunks_read) == (401, 0)


def test_chunked_json_with_a_key_stops_at_the_json_limit(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"max_json_bytes": 256 * 1024}))
    headers = {**JSON, **CHUNKED, "x-api-key": api.keys["curator"]}
    driven = drive(api.client.app, "POST", "/v1/banks", headers, endless())
    assert driven.status == 413
    assert driven.json()["error"]["field"] == "body"
    assert driven.headers["connection"] == "close"
    assert driven.chunks_read <= 256 * 1024 // CHUNK + 1  # stopped at the limit, not 300 MiB


def test_declared_oversize_is_refused_from_the_header(api: Api) -> None:
    headers = {**JSON, "content-length": str(300 * 1024 * 1024), "x-api-key": api.keys["admin"]}
    driven = drive(api.client.app, "POST", "/v1/banks", headers, endless())
    assert (driven.status, driven.chunks_read) == (413, 0)


def test_each_route_has_the_limit_it_needs(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"max_json_bytes": 16 * 1024}))
    bank = api.create_bank()
    padded = {"name": "padded", "description": "x" * 40_000}
    assert api.call("POST", "/v1/banks", json=padded).status_code == 413  # JSON: small
    lines = "".join(f"pdq,{i:064x}\n" for i in range(1, 600))  # ~40 KB: an import is large
    response = api.call(
        "POST", f"/v1/banks/{bank['id']}/imports", files={"file": ("h.csv", lines.encode())}
    )
    assert response.status_code == 201, response.text


def test_public_intake_has_its_own_small_limits(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(
        settings.model_copy(
            update={"public_max_json_bytes": 64 * 1024, "public_max_upload_bytes": 256 * 1024}
        )
    )
    as_json = drive(api.client.app, "POST", "/v1/takedown/requests", {**JSON, **CHUNKED}, endless())
    assert as_json.status == 413
    assert as_json.chunks_read <= 64 * 1024 // CHUNK + 1
    multipart = {**MULTIPART, **CHUNKED}
    as_form = drive(api.client.app, "POST", "/v1/takedown/requests", multipart, multipart_file())
    assert as_form.status == 413
    assert as_form.chunks_read <= (256 + 64) * 1024 // CHUNK + 2


def test_public_json_routes_answer_415_to_other_content_types(api: Api) -> None:
    # A text/plain POST is a "simple" cross-site request (no CORS preflight); JSON is not.
    body = raw_request(urls=["https://example.org/a"])
    text = json.dumps(body).encode()
    for path in ("/v1/takedown/requests", "/v1/portal/cases", "/v1/portal/cases/status"):
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            response = api.client.post(path, content=text, headers={"content-type": content_type})
            assert response.status_code == 415, (path, content_type, response.text)
            assert response.json()["error"]["field"] == "content-type"
    assert api.client.post("/v1/takedown/requests", json=body).status_code == 201
    with_charset = {"content-type": "application/json; charset=utf-8"}
    again = api.client.post("/v1/takedown/requests", content=text, headers=with_charset)
    assert again.status_code == 201


def test_keyed_json_routes_answer_415_too(api: Api) -> None:
    response = api.call(
        "POST", "/v1/banks", content=b'{"name": "x"}', headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


def test_deeply_nested_json_is_a_422_not_a_500(api: Api) -> None:
    deep = b"[" * 50_000
    for path, field in (("/v1/takedown/requests", "body"), ("/v1/portal/cases", "body")):
        response = api.client.post(path, content=deep, headers=JSON)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["field"] == field
        assert "nested more than 64 levels" in response.json()["error"]["message"]
    form = api.client.post(
        "/v1/takedown/requests", data={"request": "{" * 50_000}, files={"file": ("a.txt", b"x")}
    )
    assert form.status_code == 422 and form.json()["error"]["field"] == "request"


def test_real_server_answers_a_chunked_body_without_key_before_reading_it(tmp_path: Path) -> None:
    # The same attack against `hashwall serve` (uvicorn, web app, production mode) on loopback.
    with serve(
        tmp_path,
        "9f3c2a7e41b85d06c7e2f1a4b9d8e3c5a6f7b2d1e0c9a8b7f6e5d4c3b2a19080",
        HASHWALL_ENV="production",
    ) as url:
        port = int(url.rsplit(":", 1)[1])
        headers = {"Content-Type": "application/json"}
        status, sent = stream_chunked(port, "/v1/banks", headers, limit_mib=300)
    assert status == 401
    assert sent < 32 * 1024 * 1024  # socket buffers at most; not 300 MiB
