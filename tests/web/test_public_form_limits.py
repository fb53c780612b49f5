"""Issue 14 on the HTML side: the public /takedown form refuses a post without this site's
fresh form cookie before reading its body (it used to spool 400 MiB to disk first), stops
reading past its public limit, decodes an uploaded copy under the public limits and the
upload gate, and answers all of it as readable pages. The /notices tool refuses deeply
nested case files with a message instead of a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("jinja2", reason="the server extra is not installed")

from fastapi.testclient import TestClient

from hashwall.service.settings import Settings
from hashwall.web.app import create_app
from hashwall.web.review import csrf
from tests.service.abuse_support import MULTIPART, drive, multipart_file, png_declaring
from tests.service.conftest import SECRET, database_url
from tests.web.test_notice_pages import Web as NoticesWeb
from tests.web.test_reviewer_pages import CSRF, _case_count, _valid_form
from tests.web.test_reviewer_pages import Web as ReviewWeb

__all__ = ["database_url"]
CHUNKED = {"transfer-encoding": "chunked"}


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[ReviewWeb]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        public_max_upload_bytes=256 * 1024,
    )
    with TestClient(create_app(settings)) as client:
        yield ReviewWeb(client, {})


def _cookie(web: ReviewWeb) -> str:
    page = web.client.get("/takedown")
    found = CSRF.search(page.text)
    assert found
    return found.group(1)


def test_post_without_form_cookie_is_refused_before_the_body(web: ReviewWeb) -> None:
    # The report: 400 MiB of chunked multipart to /takedown spooled to disk before a 403.
    driven = drive(web.client.app, "POST", "/takedown", {**MULTIPART, **CHUNKED}, multipart_file())
    assert (driven.status, driven.chunks_read) == (403, 0)
    assert driven.headers["content-type"].startswith("text/html")
    assert b"expired or did not come from this site" in driven.body


def test_oversize_form_post_stops_reading_and_says_so(web: ReviewWeb) -> None:
    token = _cookie(web)
    headers = {**MULTIPART, **CHUNKED, "cookie": f"{csrf.COOKIE}={token}"}
    driven = drive(web.client.app, "POST", "/takedown", headers, multipart_file("upload"))
    assert driven.status == 413
    assert driven.chunks_read <= (256 + 64) * 1024 // (64 * 1024) + 2
    assert driven.headers["content-type"].startswith("text/html")
    assert b"larger than this form accepts" in driven.body
    assert _case_count(web) == 0


def test_pixel_bomb_through_the_form_is_a_message_next_to_the_upload(web: ReviewWeb) -> None:
    form = _valid_form(_cookie(web), urls="")
    files = {"upload": ("bomb.png", png_declaring(15_000, 15_000), "image/png")}
    page = web.client.post("/takedown", data=form, files=files)
    assert page.status_code == 422
    assert 'id="upload-error"' in page.text and "15000x15000" in page.text
    assert _case_count(web) == 0


def test_busy_upload_gate_is_a_429_page(web: ReviewWeb) -> None:
    gate = web.client.app.state.hashwall.public_uploads  # type: ignore[attr-defined]
    form = _valid_form(_cookie(web), urls="")
    files = {"upload": ("copy.png", png_declaring(64, 64), "image/png")}
    assert gate.try_enter("testclient") is None
    try:
        page = web.client.post("/takedown", data=form, files=files)
    finally:
        gate.leave("testclient")
    assert page.status_code == 429 and page.headers["retry-after"] == "10"
    assert "still being processed" in page.text


@pytest.fixture
def notices(database_url: str, tmp_path: Path) -> Iterator[NoticesWeb]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key=SECRET)
    with TestClient(create_app(settings)) as client:
        yield NoticesWeb(client, tmp_path)


@pytest.mark.parametrize(
    ("name", "text"),
    [("deep.yaml", b"[" * 50_000), ("deep.json", b"{" + b'"a":[' * 50_000), ("d.yaml", None)],
)
def test_deeply_nested_case_files_are_refused_with_a_message(
    notices: NoticesWeb, name: str, text: bytes | None
) -> None:
    if text is None:  # block style, which PyYAML's composer also recurses into
        text = "".join(f"{'  ' * depth}k{depth}:\n" for depth in range(200)).encode()
    page = notices.upload(text, name)
    assert page.status_code == 422
    assert "nested more than 64 levels" in page.text
