"""The survivor's notice tool (``/notices``) through FastAPI's TestClient.

The form and an uploaded case file both give every host's notices in the forms
``cases.notices`` picks (DMCA only for a copyright owner), as .txt, .eml, .pdf and one .zip;
marking a date comes back in the downloaded case file and audit chain, which upload again
intact; bad input gives one message per field with the input kept; POSTs need the CSRF token;
pages and downloads are ``no-store``; and the survivor's details end up nowhere on the server.
"""

from __future__ import annotations

import email
import html
import io
import json
import logging
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jinja2", reason="the server extra is not installed")

import yaml
from fastapi.testclient import TestClient
from httpx import Response
from pypdf import PdfReader

from hashwall.cases.audit import AuditEntry, verify
from hashwall.cases.casefile import load_case
from hashwall.cases.notices import render_all
from hashwall.service.settings import Settings
from hashwall.web.app import create_app
from tests.service.conftest import SECRET, database_url
from tests.service.test_api_core import PDQ_A

__all__ = ["database_url"]
SAMPLE = Path(__file__).resolve().parents[1] / "cases" / "sample_case.yaml"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="(carried_\w+)" value="([^"]*)">')
STAMP = re.compile(r"Electronic signature \(typed full name\), (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")
EMAIL = "robin@example.org"
US_URL = "https://pics.example/p/1"


@dataclass
class Web:
    client: TestClient
    root: Path

    def token(self) -> str:
        page = self.client.get("/notices")
        assert page.status_code == 200, page.text
        found = CSRF.search(page.text)
        assert found
        return found.group(1)

    def form(self, data: dict[str, Any]) -> Response:
        return self.client.post("/notices/form", data={"csrf": self.token(), **data})

    def upload(self, case: bytes, name: str = "case.yaml", audit: bytes | None = None) -> Response:
        files = {"case_file": (name, case, "application/yaml")}
        if audit is not None:
            files["audit_file"] = ("case.yaml.audit.jsonl", audit, "application/jsonl")
        return self.client.post("/notices/upload", data={"csrf": self.token()}, files=files)

    def post_from(self, page: Response, url: str, extra: dict[str, str]) -> Response:
        """Press a button of a result page: its hidden fields go back with ``extra``."""
        found = CSRF.search(page.text)
        assert found
        carried = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
        assert set(carried) == {"carried_case", "carried_name", "carried_audit", "carried_origin"}
        return self.client.post(url, data={"csrf": found.group(1), **carried, **extra})

    def download(self, page: Response, name: str) -> Response:
        return self.post_from(page, "/notices/download", {"file": name})


@pytest.fixture
def web(database_url: str, tmp_path: Path) -> Iterator[Web]:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key=SECRET)
    with TestClient(create_app(settings)) as client:
        yield Web(client, tmp_path)


def valid_form(**changes: Any) -> dict[str, Any]:
    """A complete case: one US, one EU and one AU host (synthetic people and sites)."""
    form: dict[str, Any] = {
        "action": "notices",
        "case_id": "robin-1",
        "requester_name": "Robin Sample",
        "requester_email": EMAIL,
        "relation": "depicted_person",
        "jurisdiction": "US",
        "description": "A synthetic test photograph.",
        "hashes": f"pdq,{PDQ_A}",
        "signature": "Robin Sample",
        "host_count": "3",
        "hosts-0-name": "pics.example",
        "hosts-0-contact": "abuse@pics.example",
        "hosts-0-jurisdiction": "US",
        "hosts-0-urls": f"{US_URL}\nhttps://pics.example/p/2",
        "hosts-1-name": "forum.example.eu",
        "hosts-1-contact": "dsa@forum.example.eu",
        "hosts-1-jurisdiction": "EU",
        "hosts-1-urls": "https://forum.example.eu/t/9",
        "hosts-2-name": "board.example.au",
        "hosts-2-jurisdiction": "AU",
        "hosts-2-urls": "https://board.example.au/x/3",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def notice_ids(page: Response) -> list[str]:
    return re.findall(r'<article class="notice-text" id="notice-([^"]+)"', page.text)


def bodies(page: Response) -> list[str]:
    return [html.unescape(body) for body in re.findall(r"<pre>(.*?)</pre>", page.text, re.S)]


def errors(page: Response) -> dict[str, str]:
    found = re.findall(
        r'<p class="field-error" id="([^"]+)-error" role="alert">(.*?)</p>', page.text
    )
    return {field: html.unescape(message) for field, message in found}


# ------------------------------------------------------------------------ pages and headers


def test_start_page_is_no_store_with_strict_csp_and_the_disclaimer(web: Web) -> None:
    page = web.client.get("/notices")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "templates, not legal advice" in page.text
    assert "Nothing is stored here" in page.text
    assert "hw_form" in page.cookies
    css = web.client.get("/notices/static/notices.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_form_gives_each_host_its_forms_and_dmca_only_for_a_copyright_owner(web: Web) -> None:
    page = web.form(valid_form())
    assert page.status_code == 200, errors(page) or page.text
    assert page.headers["cache-control"] == "no-store"
    assert notice_ids(page) == [
        "pics.example-take_it_down",
        "forum.example.eu-dsa",
        "esafety-report",
    ]
    assert "dmca-warning" not in page.text
    owner = web.form(valid_form(owns_copyright="yes"))
    assert owner.status_code == 200, errors(owner)
    assert notice_ids(owner) == [
        "pics.example-take_it_down",
        "pics.example-dmca",
        "forum.example.eu-dsa",
        "esafety-report",
    ]
    assert 'id="dmca-warning"' in owner.text
    advice = html.unescape(owner.text)
    assert "512(g)(2)(C)" in advice and "411(a)" in advice
    assert '<a href="https://dmca.copyright.gov/"' in owner.text
    body = bodies(owner)[1]
    assert "NOTICE OF CLAIMED INFRINGEMENT under 17 U.S.C. 512(c)(3)" in body
    assert US_URL in body and f"pdq: {PDQ_A}" in body


def test_explicit_dmca_without_copyright_and_a_uk_host_without_forms_are_refused(
    web: Web,
) -> None:
    form = valid_form(**{"hosts-0-forms": ["dmca"], "hosts-2-jurisdiction": "UK"})
    page = web.form(form)
    assert page.status_code == 422
    found = errors(page)
    assert "DMCA notice refused" in found["hosts-0-forms"]
    assert "no notice form is defined for UK hosts" in found["hosts-2-forms"]
    assert "the site's own reporting process" in found["hosts-2-forms"]
    assert "https://revengepornhelpline.org.uk/" in found["hosts-2-forms"]
    assert 'value="dmca" checked' in page.text  # what was ticked stays ticked


def test_hashwall_hash_json_lines_can_be_pasted(web: Web) -> None:
    line = json.dumps(
        {
            "path": "photo.jpg",
            "content_type": "photo",
            "signals": {
                "pdq": {"hash": PDQ_A, "quality": 100},
                "md5": "0" * 32,
                "sha256": "a" * 64,
            },
        }
    )
    page = web.form(valid_form(hashes=line))
    assert page.status_code == 200, errors(page)
    body = bodies(page)[0]
    for expected in (f"pdq: {PDQ_A}", "md5: " + "0" * 32, "sha256: " + "a" * 64):
        assert expected in body


def test_each_notice_says_how_to_send_it(web: Web) -> None:
    page = web.form(valid_form())
    assert page.status_code == 200, errors(page)
    text = html.unescape(page.text)
    assert "<dt>How to send</dt><dd>Submit through pics.example's TAKE IT DOWN removal form" in (
        text
    )
    assert "Paste into eSafety's online report form" in text
    assert "the FTC's complaint page is" in text
    assert "Email draft to</dt><dd>abuse@pics.example" not in text  # no recipient for it
    assert "Email draft to</dt><dd>dsa@forum.example.eu" in text
    ireland = web.form(valid_form(member_state="Ireland"))
    assert "the national provision of Ireland" in " ".join(bodies(ireland)[1].split())


def test_an_australian_resident_with_only_a_us_host_gets_esafety_text(web: Web) -> None:
    blank = {f"hosts-{i}-{f}": "" for i in (1, 2) for f in ("name", "contact", "jurisdiction")}
    page = web.form(
        valid_form(jurisdiction="AU", **blank, **{"hosts-1-urls": "", "hosts-2-urls": ""})
    )
    assert page.status_code == 200, errors(page)
    assert notice_ids(page) == ["pics.example-take_it_down", "esafety-report"]
    report = bodies(page)[1]
    assert "The person shown ordinarily lives in Australia." in report
    assert US_URL in report and "https://pics.example/p/2" in report
    us_only = web.form(valid_form(**blank, **{"hosts-1-urls": "", "hosts-2-urls": ""}))
    assert notice_ids(us_only) == ["pics.example-take_it_down"]


def test_under_18_routing_and_the_anonymous_dsa_notice(web: Web) -> None:
    start = web.client.get("/notices")
    assert 'name="under_18_when_taken"' in start.text
    assert 'href="https://takeitdown.ncmec.org/"' in start.text
    refused = web.form(valid_form(anonymous_dsa_notice="yes"))
    assert refused.status_code == 422
    assert "DSA Art. 16(2)(c)" in errors(refused)["anonymous_dsa_notice"]
    page = web.form(valid_form(under_18_when_taken="yes", anonymous_dsa_notice="yes"))
    assert page.status_code == 200, errors(page)
    box = re.search(
        r'<section class="warning under-18" id="under-18".*?</section>', page.text, re.S
    )
    assert box and page.text.index('id="under-18"') < page.text.index('id="keep"')
    assert 'href="https://takeitdown.ncmec.org/"' in box.group(0)
    assert "Report Remove" in box.group(0) and "childline.org.uk" in box.group(0)
    dsa = bodies(page)[1]
    assert "Robin Sample" not in dsa and EMAIL not in dsa
    assert "Article 16(2)(c)" in dsa
    assert EMAIL in bodies(page)[0]  # TAKE IT DOWN still needs contact details
    saved = yaml.safe_load(web.download(page, "robin-1.yaml").text)
    assert saved["under_18_when_taken"] is True and saved["anonymous_dsa_notice"] is True


# ------------------------------------------------------------------------------- downloads


def test_downloads_txt_eml_pdf_and_zip_are_no_store_files(web: Web) -> None:
    page = web.form(valid_form())
    assert page.status_code == 200, errors(page)
    stem = "pics.example-take_it_down"

    text = web.download(page, f"{stem}.txt")
    assert text.status_code == 200
    assert text.headers["cache-control"] == "no-store"
    assert text.headers["content-disposition"] == f'attachment; filename="{stem}.txt"'
    assert text.text == bodies(page)[0] and US_URL in text.text

    eml = web.download(page, f"{stem}.eml")
    message = email.message_from_bytes(eml.content, policy=policy.default)
    assert message["To"] is None  # submitted through the site's own removal form
    assert message["From"] == f"Robin Sample <{EMAIL}>"
    assert message["Subject"].startswith("Removal request under 47 U.S.C. § 223a")
    assert message["X-Unsent"] == "1"
    content = message.get_body(("plain",))
    assert content is not None and US_URL in content.get_content()

    pdf = web.download(page, f"{stem}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert US_URL in "".join(p.extract_text() for p in reader.pages)

    archive = zipfile.ZipFile(io.BytesIO(web.download(page, "notices.zip").content))
    stems = notice_ids(page)
    expected = {f"{s}.{ext}" for s in stems for ext in ("txt", "eml", "pdf")}
    assert set(archive.namelist()) == expected
    assert archive.read(f"{stem}.txt").decode() == text.text

    missing = web.download(page, "../../etc/passwd")
    assert missing.status_code == 404


def test_uploaded_sample_case_gives_the_same_notices_as_the_cli(web: Web) -> None:
    page = web.upload(SAMPLE.read_bytes(), "sample_case.yaml")
    assert page.status_code == 200, page.text
    shown = bodies(page)
    stamp = STAMP.search(shown[0])
    assert stamp
    now = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    cli = render_all(load_case(SAMPLE), now)
    assert notice_ids(page) == [notice.stem for notice in cli]
    assert shown == [notice.body for notice in cli]


# -------------------------------------------------------------- tracking and the audit chain


def _entries(text: str) -> list[AuditEntry]:
    return [AuditEntry.from_json(json.loads(line)) for line in text.splitlines()]


def test_marking_round_trips_through_the_downloaded_case_file_and_audit_chain(web: Web) -> None:
    page = web.upload(SAMPLE.read_bytes(), "alex.yaml")
    assert "A new audit log was started" in page.text
    url = "https://imagehost.example/i/def456"
    marked = web.post_from(page, "/notices/mark", {"mark": "0-1:sent", "date-0-1": "2026-05-19"})
    assert marked.status_code == 200, marked.text
    assert f"Recorded: sent on 2026-05-19 for {url}" in marked.text
    assert re.search(r'id="url-0-1">.*?<td class="sent">2026-05-19</td>', marked.text, re.S)

    case_file = web.download(marked, "alex.yaml")
    assert case_file.headers["cache-control"] == "no-store"
    saved = yaml.safe_load(case_file.text)
    assert saved["hosts"][0]["urls"][1] == {"url": url, "sent": "2026-05-19"}
    audit = web.download(marked, "alex.yaml.audit.jsonl").text
    entries = _entries(audit)
    assert [e.action for e in entries] == ["notice.generated", "notice.sent"]
    assert entries[1].data == {"url": url, "date": "2026-05-19"}
    assert verify(entries).intact

    # Next time: both files go up again, the dates are there and the chain carries on.
    again = web.upload(case_file.content, "alex.yaml", audit.encode())
    assert again.status_code == 200, again.text
    assert "Audit log intact: 3 entries" in again.text
    assert "A new audit log was started" not in again.text
    removed = web.post_from(
        again, "/notices/mark", {"mark": "2-0:removed", "date-2-0": "2026-05-20"}
    )
    final = _entries(web.download(removed, "alex.yaml.audit.jsonl").text)
    assert [e.action for e in final][-2:] == ["notice.generated", "notice.removed"]
    assert verify(final).intact and final[0].hash == entries[0].hash


def test_an_edited_audit_log_is_shown_as_broken(web: Web) -> None:
    page = web.upload(SAMPLE.read_bytes(), "alex.yaml")
    audit = web.download(page, "alex.yaml.audit.jsonl").text
    edited = audit.replace("imagehost.example", "elsewhere.example", 1)
    assert edited != audit
    again = web.upload(SAMPLE.read_bytes(), "alex.yaml", edited.encode())
    assert again.status_code == 200
    status = re.search(r'<p id="audit-status" class="broken">(.*?)</p>', again.text, re.S)
    assert status
    assert "hash does not match the entry's content (edited)" in html.unescape(status.group(1))


def test_a_bad_date_or_damaged_page_data_is_refused(web: Web) -> None:
    page = web.upload(SAMPLE.read_bytes(), "alex.yaml")
    bad = web.post_from(page, "/notices/mark", {"mark": "0-0:sent", "date-0-0": "19/05/2026"})
    assert bad.status_code == 422
    assert errors(bad)["date-0-0"] == "Use a date like 2026-05-19."
    future = web.post_from(page, "/notices/mark", {"mark": "0-0:sent", "date-0-0": "2999-01-01"})
    assert errors(future)["date-0-0"] == "The date cannot be in the future."
    unknown = web.post_from(page, "/notices/mark", {"mark": "7-0:sent", "date-7-0": "2026-05-19"})
    assert unknown.status_code == 400
    token = CSRF.search(page.text)
    assert token
    damaged = {"csrf": token.group(1), "carried_case": "not base64!", "file": "notices.zip"}
    assert web.client.post("/notices/download", data=damaged).status_code == 400


# ------------------------------------------------------------------------------ bad input


def test_bad_form_fields_each_get_a_message_and_the_input_is_kept(web: Web) -> None:
    form = valid_form(
        requester_email="robin-at-example",
        description="",
        relation="authorised",
        hashes="pdq,nothex",
        signature="",
        **{"hosts-0-urls": f"{US_URL}\nftp://pics.example/2", "hosts-1-contact": "nope"},
    )
    page = web.form(form)
    assert page.status_code == 422
    found = errors(page)
    assert found["requester_email"] == "Your email address is not an email address."
    assert found["description"] == "The description of the image is required."
    assert found["authority"] == "Your authority is required when you act for someone else."
    assert found["hashes"].startswith("Line 1: ")
    assert found["signature"] == "Your typed signature is required: it signs the notices."
    assert found["hosts-0-urls"] == "Line 2: is not an http(s) URL."
    assert found["hosts-1-contact"] == "The host's contact address is not an email address."
    assert 'value="robin-at-example"' in page.text
    assert f"{US_URL}\nftp://pics.example/2</textarea>" in page.text
    assert 'aria-invalid="true" aria-describedby="requester_email-error"' in page.text


def test_a_bad_case_reference_says_which_characters_are_allowed(web: Web) -> None:
    page = web.form(valid_form(case_id="my case"))
    expected = "The case reference may use only letters, digits, '.', '_' and '-'."
    assert errors(page)["case_id"] == expected


def test_a_json_case_file_comes_back_as_json(web: Web) -> None:
    case = yaml.safe_load(SAMPLE.read_text())
    page = web.upload(json.dumps(case).encode(), "alex.json")
    assert page.status_code == 200, page.text
    back = web.download(page, "alex.json")
    assert back.headers["content-type"].startswith("application/json")
    assert json.loads(back.text) == case
    assert web.download(page, "alex.json.audit.jsonl").status_code == 200


def test_a_form_without_hosts_or_with_a_bad_hash_line_says_so(web: Web) -> None:
    empty = {
        f"hosts-{i}-{f}": "" for i in range(3) for f in ("name", "contact", "jurisdiction", "urls")
    }
    page = web.form(valid_form(hashes="just-a-value", **empty))
    found = errors(page)
    assert found["hosts"].startswith("Add at least one host")
    assert found["hashes"].startswith("Line 1: write type,value")
    no_urls = web.form(valid_form(**{"hosts-0-urls": ""}))
    assert errors(no_urls)["hosts-0-urls"] == "The URLs needs at least one URL."


def test_add_another_host_keeps_what_was_typed(web: Web) -> None:
    page = web.form(valid_form(action="add_host"))
    assert page.status_code == 200
    assert 'id="host-3"' in page.text and 'name="host_count" value="4"' in page.text
    assert 'value="Robin Sample"' in page.text and notice_ids(page) == []


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (b"case_id: [unclosed", "case.yaml", "Not valid YAML"),
        (b'{"case_id": ', "case.json", "Not valid JSON"),
        (b"- a list", "case.yaml", "must hold a mapping"),
        (b"a: &x [1]\nb: *x\n", "case.yaml", "aliases"),
        (b"\xff\xfe", "case.yaml", "not UTF-8"),
    ],
)
def test_malformed_case_files_are_named(web: Web, content: bytes, name: str, expected: str) -> None:
    page = web.upload(content, name)
    assert page.status_code == 422
    assert "This case file cannot be used" in page.text
    problems = re.search(r'<ul class="field-error" id="case-problems">(.*?)</ul>', page.text, re.S)
    assert problems and expected in html.unescape(problems.group(1))


def test_an_invalid_case_file_lists_every_bad_field(web: Web) -> None:
    case = yaml.safe_load(SAMPLE.read_text())
    case["requester"]["email"] = "alex-at-example"
    case["hosts"][1]["urls"][0]["url"] = "forum.example.eu/t/991"
    del case["description"]
    page = web.upload(yaml.safe_dump(case).encode(), "alex.yaml")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "requester.email: is not an email address" in text
    assert "hosts.1.urls.0.url: is not an http(s) URL" in text
    assert "description: is required" in text
    assert web.upload(b"", "").status_code == 422  # no file chosen


def test_an_uploaded_case_that_gives_no_notices_says_why(web: Web) -> None:
    case = yaml.safe_load(SAMPLE.read_text())
    del case["signature"]
    case["owns_copyright"] = False
    case["hosts"][1]["forms"] = ["dmca"]
    page = web.upload(yaml.safe_dump(case).encode(), "alex.yaml")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "No notices can be written" in text
    assert "signature: is missing" in text
    assert "hosts.1: forum.example.eu: DMCA notice refused" in text


# ------------------------------------------------------------------------- CSRF and privacy


def test_posts_without_a_valid_csrf_token_are_refused(web: Web) -> None:
    assert web.client.post("/notices/form", data=valid_form()).status_code == 403
    forged = {"csrf": "forged", **valid_form()}
    assert web.client.post("/notices/form", data=forged).status_code == 403
    page = web.upload(SAMPLE.read_bytes())
    carried = dict(HIDDEN.findall(page.text))
    stale = {"csrf": "forged", **carried, "file": "notices.zip"}
    assert web.client.post("/notices/download", data=stale).status_code == 403
    web.client.cookies.clear()  # the right token without its cookie: refused too
    token = CSRF.search(page.text)
    assert token
    blank = {"csrf": token.group(1), **carried, "mark": "0-0:sent", "date-0-0": "2026-05-19"}
    assert web.client.post("/notices/mark", data=blank).status_code == 403


def test_nothing_about_the_survivor_is_stored_or_logged(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = web.form(valid_form())
    web.post_from(page, "/notices/mark", {"mark": "0-0:sent", "date-0-0": "2026-05-19"})
    web.download(page, "notices.zip")
    web.upload(SAMPLE.read_bytes())
    for secret in (EMAIL, "Robin Sample", US_URL, "alex@example.org"):
        assert secret not in caplog.text
        for path in web.root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_posts_are_rate_limited_per_address(database_url: str, tmp_path: Path) -> None:
    """Each post renders notices and PDFs: one address gets an hourly budget, then a 429."""
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        notices_posts_per_ip_hour=2,
    )
    with TestClient(create_app(settings)) as client:
        web = Web(client, tmp_path)
        for _ in range(2):
            assert web.form(valid_form()).status_code == 200
        refused = web.form(valid_form())
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "Too many requests" in refused.text
