"""Notices: golden text per legal form, .eml and PDF structure, the DMCA refusal, the CLI
(generate, mark, status, evidence) and bad case files."""

from __future__ import annotations

import email
import json
import os
import shutil
from email import policy
from io import BytesIO
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwall.cases.audit import JsonlAuditStore, check
from hashwall.cases.casefile import CaseFile, CaseFileError, NoticeForm, load_case
from hashwall.cases.deadlines import Jurisdiction
from hashwall.cases.notices import (
    FOOTER,
    Notice,
    NoticeError,
    guidance,
    render_all,
    to_email,
    under_18_guidance,
)
from hashwall.cases.pdf import render_pdf
from hashwall.cli.app import app
from tests.cases.conftest import START

HERE = Path(__file__).parent
SAMPLE = HERE / "sample_case.yaml"
GOLDEN = HERE / "golden"
runner = CliRunner()
pypdf = pytest.importorskip("pypdf")


def notices() -> dict[str, str]:
    return {f"{n.stem}.txt": n.body for n in render_all(load_case(SAMPLE), START)}


def test_forms_per_host() -> None:
    assert sorted(notices()) == [
        "esafety-report.txt",
        "forum.example.eu-dsa.txt",
        "imagehost.example-dmca.txt",
        "imagehost.example-take_it_down.txt",
    ]


@pytest.mark.parametrize(
    "name",
    [
        "imagehost.example-take_it_down.txt",
        "imagehost.example-dmca.txt",
        "forum.example.eu-dsa.txt",
        "esafety-report.txt",
    ],
)
def test_golden_text(name: str) -> None:
    text = notices()[name]
    if os.environ.get("HASHWALL_UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(text, encoding="utf-8")
    assert text == (GOLDEN / name).read_text(encoding="utf-8")
    assert text.rstrip().endswith(FOOTER)


@pytest.mark.parametrize(
    ("name", "required"),
    [
        (
            "imagehost.example-take_it_down.txt",
            [  # 47 U.S.C. 223a(a)(1)(B)(i)-(iv), and (a)(3)
                "/s/ Alex Example",
                "https://imagehost.example/i/def456",
                "I am the person shown, and I have a good faith belief that the intimate visual "
                "depiction identified above is not consensual",
                "I never agreed to its publication",
                "Email: alex@example.org",
                "47 U.S.C. § 223a (added by the TAKE IT DOWN Act, Pub. L. 119-12, s. 3)",
                "Under 47 U.S.C. § 223a(a)(3)",
                "make reasonable efforts to identify and remove any known identical copies",
                "applies from 19 May 2026",
                "own TAKE IT DOWN removal form",
            ],
        ),
        (
            "imagehost.example-dmca.txt",
            [  # 17 U.S.C. 512(c)(3)(A)(i)-(vi)
                "/s/ Alex Example",
                "A photograph I took of myself",
                "https://imagehost.example/i/abc123",
                "Telephone: +1 555 0100",
                "not authorized by the copyright owner, its agent, or the law",
                "under penalty of perjury",
            ],
        ),
        (
            "forum.example.eu-dsa.txt",
            [  # DSA Art. 16(2)(a)-(d)
                "(a) Why this content is illegal",
                "https://forum.example.eu/t/991#post-4",
                "Name: Alex Example",
                "bona fide belief that the information and allegations contained in this notice "
                "are accurate and complete",
                "confirm receipt of this notice without undue delay (Article 16(4)",
                "notify me of your decision without undue delay, with information on the "
                "possibilities for redress (Article 16(5))",
                "timely, diligent, non-arbitrary and objective",
                "Directive (EU) 2024/1385 does not itself make this an offence",
                "by 14 June 2027",
            ],
        ),
        (
            "esafety-report.txt",
            [
                "https://board.example.au/p/77",
                "esafety.gov.au",
                "The image is on a site based in Australia (board.example.au).",
                "within 24 hours after the notice was given, or such longer period as the "
                "Commissioner allows",
                "Asking a site myself does not start that period.",
            ],
        ),
    ],
)
def test_legal_elements_present(name: str, required: list[str]) -> None:
    text = " ".join(notices()[name].split())
    for element in required:
        assert " ".join(element.split()) in text, element


def test_no_notice_says_section_3_or_that_the_directive_makes_it_an_offence() -> None:
    for name, text in notices().items():
        assert "Section 3 of the TAKE IT DOWN Act" not in text, name
        assert "section 3 (notice" not in text, name
        assert "requires every Member State to make it one" not in text, name


def test_dmca_refused_without_copyright(tmp_path: Path) -> None:
    case = load_case(SAMPLE).model_copy(update={"owns_copyright": False})
    assert all(n.form is not NoticeForm.DMCA for n in render_all(case, START))
    case.hosts[0].forms = [NoticeForm.DMCA]
    with pytest.raises(NoticeError, match="DMCA notice refused: only the copyright owner"):
        render_all(case, START)


def test_uk_hosts_need_explicit_forms_and_a_signature_is_required() -> None:
    case = load_case(SAMPLE)
    case.hosts[2].jurisdiction = case.hosts[2].jurisdiction.__class__("UK")
    case.hosts[2].forms = None
    with pytest.raises(NoticeError, match="no notice form is defined for UK") as refused:
        render_all(case, START)
    message = str(refused.value)
    assert "the site's own reporting process" in message
    assert "https://revengepornhelpline.org.uk/" in message
    assert "Report Remove" in message and "childline.org.uk" in message
    # Someone living in Australia can report the UK site to eSafety: no error then.
    case.jurisdiction = Jurisdiction.AU
    assert [n.stem for n in render_all(case, START)][-1] == "esafety-report"
    with pytest.raises(NoticeError, match="signature is missing"):
        render_all(load_case(SAMPLE).model_copy(update={"signature": None}), START)


def test_eml_structure() -> None:
    case = load_case(SAMPLE)
    by_form = {n.form: n for n in render_all(case, START)}
    raw = bytes(to_email(by_form[NoticeForm.DSA], case, START))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["To"] == "notices@forum.example.eu"
    take_it_down = email.message_from_bytes(
        bytes(to_email(by_form[NoticeForm.TAKE_IT_DOWN], case, START)), policy=policy.default
    )
    assert take_it_down["To"] is None  # it goes through the platform's own removal form
    assert parsed["From"] == "Alex Example <alex@example.org>"
    assert parsed["Subject"].endswith("Digital Services Act - alex-2026-05")
    assert parsed["X-Unsent"] == "1"
    assert parsed.get_content() == by_form[NoticeForm.DSA].body
    esafety = email.message_from_bytes(
        bytes(to_email(by_form[NoticeForm.ESAFETY], case, START)), policy=policy.default
    )
    assert esafety["To"] is None  # eSafety takes reports through its form, not by email


def test_pdf_structure() -> None:
    notice = render_all(load_case(SAMPLE), START)[0]
    reader = pypdf.PdfReader(BytesIO(render_pdf(notice.subject, notice.body, START)))
    assert 1 <= len(reader.pages) <= 3
    text = " ".join("".join(page.extract_text() for page in reader.pages).split())
    assert "TAKE IT DOWN Act" in text and "https://imagehost.example/i/abc123" in text
    assert "/s/ Alex Example" in text
    assert reader.metadata is not None and reader.metadata.title == notice.subject


def test_pdf_unicode_needs_a_font(monkeypatch: pytest.MonkeyPatch) -> None:
    from hashwall.cases import pdf

    monkeypatch.setattr(pdf, "FONT_CANDIDATES", ())
    assert render_pdf("Title", "Zoë Müller", START).startswith(b"%PDF")
    with pytest.raises(pdf.PdfError, match="HASHWALL_PDF_FONT"):
        render_pdf("Title", "王小明", START)
    monkeypatch.setenv("HASHWALL_PDF_FONT", "/nonexistent.ttf")
    with pytest.raises(pdf.PdfError, match="no such font file"):
        render_pdf("Title", "x", START)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("case_id: x\n", r"requester: is required \(and"),
        ("[1, 2", "not valid YAML"),
        ("- a\n", "must hold a mapping"),
        (
            SAMPLE.read_text().replace("alex@example.org", "alex-at-example"),
            "requester.email: is not an email address",
        ),
        (
            SAMPLE.read_text().replace("relation: depicted_person", "relation: authorised"),
            "authority is required",
        ),
    ],
)
def test_bad_case_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(content)
    with pytest.raises(CaseFileError, match=message):
        load_case(path)
    outcome = runner.invoke(app, ["notice", "status", "--case", str(path)])
    assert outcome.exit_code == 2 and outcome.output.startswith("error: ")
    assert len(outcome.output.strip().splitlines()) == 1


def test_cli_generate_mark_status_evidence(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    shutil.copy(SAMPLE, case)
    out = tmp_path / "notices"
    generated = runner.invoke(app, ["notice", "generate", "--case", str(case), "-o", str(out)])
    assert generated.exit_code == 0, generated.output
    assert len(list(out.iterdir())) == 12  # 4 notices x txt, eml, pdf
    assert (
        "not legal advice" in generated.output and "DMCA: hosts often forward" in generated.output
    )

    url = "https://imagehost.example/i/abc123"
    for flag, day in (("--sent", "2026-05-19"), ("--removed", "2026-05-20")):
        marked = runner.invoke(
            app, ["notice", "mark", url, "--case", str(case), flag, "--date", day]
        )
        assert marked.exit_code == 0, marked.output
    assert load_case(case).find_url(url).removed is not None
    status = runner.invoke(app, ["notice", "status", "--case", str(case)])
    assert f"{url}\tsent=2026-05-19 acknowledged=- removed=2026-05-20" in status.output

    for args in (["--sent", "--removed"], ["--sent", "--date", "19/05/2026"], []):
        bad = runner.invoke(app, ["notice", "mark", url, "--case", str(case), *args])
        assert bad.exit_code == 2 and bad.output.startswith("error: "), bad.output
    unknown = runner.invoke(
        app, ["notice", "mark", "https://x.example/", "--case", str(case), "--sent"]
    )
    assert unknown.exit_code == 2 and "not in the case file" in unknown.output

    pack = tmp_path / "pack"
    exported = runner.invoke(app, ["notice", "evidence", "--case", str(case), "-o", str(pack)])
    assert exported.exit_code == 0, exported.output
    assert sorted(p.name for p in pack.iterdir()) == ["SHA256SUMS", "evidence.json", "summary.pdf"]
    document = json.loads((pack / "evidence.json").read_text())
    actions = [entry["action"] for entry in document["audit"]["entries"]]
    assert actions == ["notice.generated", "notice.sent", "notice.removed", "case.exported"]
    assert document["audit"]["chain"]["intact"] is True
    assert check(JsonlAuditStore(tmp_path / "case.yaml.audit.jsonl")).intact
    again = runner.invoke(app, ["notice", "evidence", "--case", str(case), "-o", str(pack)])
    assert again.exit_code == 2 and "not empty" in again.output


def test_dmca_refusal_in_cli_writes_nothing(tmp_path: Path) -> None:
    case = tmp_path / "case.json"
    data = load_case(SAMPLE).model_dump(mode="json", exclude_none=True)
    data["owns_copyright"] = False
    data["hosts"][0]["forms"] = ["take_it_down", "dmca"]
    case.write_text(json.dumps(data))
    out = tmp_path / "notices"
    outcome = runner.invoke(app, ["notice", "generate", "--case", str(case), "-o", str(out)])
    assert outcome.exit_code == 2 and "DMCA notice refused" in outcome.output
    assert not out.exists() and not (tmp_path / "case.json.audit.jsonl").exists()


# ------------------------------------------------- issue 15: the corrected legal texts


def _case(**changes: object) -> CaseFile:
    return load_case(SAMPLE).model_copy(update=changes, deep=True)


def _by_stem(case: CaseFile) -> dict[str, Notice]:
    return {notice.stem: notice for notice in render_all(case, START)}


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(
    ("depicted", "expected"),
    [
        ("Sam Example", "Sam Example, the person shown, has a good faith belief"),
        (None, "The person shown has a good faith belief"),
    ],
)
def test_take_it_down_good_faith_is_the_depicted_persons_belief_for_an_authorised_sender(
    depicted: str | None, expected: str
) -> None:
    case = _case(relation="authorised", authority="Parent of Sam", depicted_person=depicted)
    text = _flat(_by_stem(case)["imagehost.example-take_it_down"].body)
    assert (
        f"{expected} that the intimate visual depiction identified above is not consensual." in text
    )
    assert "I have a good faith belief" not in text
    # ... followed by the relevant information on the lack of consent (s. 223a(a)(1)(B)(iii))
    after = text.split(expected, 1)[1]
    assert after.index("I never agreed to its publication") < after.index("3. Contact")


def test_without_a_consent_statement_the_requester_is_told_that_facts_help() -> None:
    case = _case(consent_statement=None)
    notices = render_all(case, START)
    text = next(n.body for n in notices if n.form is NoticeForm.TAKE_IT_DOWN)
    assert "Information showing that it was published without consent" not in text
    advice = _flat(" ".join(guidance(case, notices)))
    assert "no consent_statement" in advice and "helps the platform decide" in advice
    assert "no consent_statement" not in " ".join(guidance(load_case(SAMPLE), notices))


def test_take_it_down_goes_through_the_platforms_form_and_has_no_recipient() -> None:
    case = load_case(SAMPLE)
    notice = _by_stem(case)["imagehost.example-take_it_down"]
    assert notice.recipient is None
    assert to_email(notice, case, START)["To"] is None
    assert "own TAKE IT DOWN removal form" in notice.body.splitlines()[0]
    assert "TAKE IT DOWN removal form" in notice.instructions
    assert "fallback" in notice.instructions and "abuse@imagehost.example" in notice.instructions
    advice = _flat(" ".join(guidance(case, render_all(case, START))))
    assert "the FTC's complaint page is https://TakeItDown.ftc.gov" in advice
    assert "from 19 May 2026" in advice and "223a(a)(3)" in advice


def test_an_australian_resident_with_a_us_host_gets_the_esafety_report() -> None:
    case = _case(jurisdiction=Jurisdiction.AU)
    case.hosts = case.hosts[:1]  # only imagehost.example, a US host
    stems = list(_by_stem(case))
    assert stems == [
        "imagehost.example-take_it_down",
        "imagehost.example-dmca",
        "esafety-report",
    ]
    report = _by_stem(case)["esafety-report"]
    assert report.recipient is None
    assert "The person shown ordinarily lives in Australia." in report.body
    assert "https://imagehost.example/i/abc123" in report.body
    assert "https://imagehost.example/i/def456" in report.body


def test_an_australian_resident_gets_one_esafety_report_listing_every_host_once() -> None:
    case = _case(jurisdiction=Jurisdiction.AU)
    notices = render_all(case, START)
    reports = [n for n in notices if n.form is NoticeForm.ESAFETY]
    assert len(reports) == 1
    body = reports[0].body
    for host in case.hosts:
        for record in host.urls:
            assert body.count(record.url) == 1, record.url
    assert "imagehost.example (where the site is based: US)" in body


def test_no_esafety_report_for_a_non_australian_resident_with_a_us_host() -> None:
    for where in (Jurisdiction.US, Jurisdiction.EU, Jurisdiction.UK):
        case = _case(jurisdiction=where)
        case.hosts = case.hosts[:1]
        assert all(n.form is not NoticeForm.ESAFETY for n in render_all(case, START)), where


def test_old_case_files_with_esafety_listed_for_a_host_still_work() -> None:
    case = _case()
    case.hosts[1].forms = [NoticeForm.DSA, NoticeForm.ESAFETY]
    report = _by_stem(case)["esafety-report"]
    assert "https://forum.example.eu/t/991#post-4" in report.body  # the EU host, as listed
    assert "https://board.example.au/p/77" in report.body  # and the AU host
    assert "https://imagehost.example/i/abc123" not in report.body


def test_dsa_relies_on_the_national_provision() -> None:
    named = _flat(
        _by_stem(_case(legal_reference="Section 3 of an example Act"))["forum.example.eu-dsa"].body
    )
    assert "Legal basis: Section 3 of an example Act" in named
    assert "2024/1385" not in named
    country = _flat(_by_stem(_case(member_state="Ireland"))["forum.example.eu-dsa"].body)
    assert "the national provision of Ireland that makes the non-consensual sharing" in country
    assert "Directive (EU) 2024/1385 does not itself make this an offence" in country
    assert "Article 5 obliges Member States to criminalise it by 14 June 2027" in country


def test_dmca_counter_notice_warning_is_for_the_requester_not_in_the_notice(
    tmp_path: Path,
) -> None:
    case = load_case(SAMPLE)
    notices = render_all(case, START)
    advice = _flat(" ".join(guidance(case, notices)))
    for expected in (
        "10 to 14 business days unless you file a court action (17 U.S.C. § 512(g)(2)(C))",
        "registered first (17 U.S.C. § 411(a))",
        "https://dmca.copyright.gov/",
        "send the TAKE IT DOWN request first",
    ):
        assert expected in advice, expected
    dmca = _by_stem(case)["imagehost.example-dmca"]
    assert "counter-notice" not in dmca.body and "512(g)" not in dmca.body
    assert "https://dmca.copyright.gov/" in dmca.instructions
    path = tmp_path / "case.yaml"
    shutil.copy(SAMPLE, path)
    outcome = runner.invoke(
        app, ["notice", "generate", "--case", str(path), "-o", str(tmp_path / "n")]
    )
    assert outcome.exit_code == 0, outcome.output
    out = _flat(outcome.output)
    assert "512(g)(2)(C)" in out and "411(a)" in out
    assert "imagehost.example-take_it_down: Submit through imagehost.example's TAKE IT DOWN" in out
    assert "esafety-report: Paste into eSafety's online report form" in out
    assert not _flat((tmp_path / "n" / "imagehost.example-dmca.txt").read_text()).count("512(g)")


def test_under_18_routing_is_printed_first_by_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    data = load_case(SAMPLE).model_dump(mode="json", exclude_none=True)
    data["under_18_when_taken"] = True
    path.write_text(json.dumps(data))
    outcome = runner.invoke(
        app, ["notice", "generate", "--case", str(path), "-o", str(tmp_path / "n")]
    )
    assert outcome.exit_code == 0, outcome.output
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    first = next(i for i, line in enumerate(lines) if not line.startswith(str(tmp_path)))
    assert lines[first].startswith("UNDER 18:")
    out = _flat(outcome.output)
    assert "https://takeitdown.ncmec.org/" in out and "Report Remove" in out
    assert "remove-nude-image-shared-online/" in out
    assert "still needs contact information and a signature" in out
    assert out.index("UNDER 18") < out.index("not legal advice")
    assert under_18_guidance(load_case(SAMPLE)) == []


def test_under_18_dsa_notice_may_leave_out_name_and_email() -> None:
    minor = _case(under_18_when_taken=True)
    named = _by_stem(minor)
    kept = named["forum.example.eu-dsa"].body
    assert "Name: Alex Example" in kept and "Email: alex@example.org" in kept
    assert "Article 5 of Directive 2011/93/EU" in _flat(kept)
    anonymous = _by_stem(_case(under_18_when_taken=True, anonymous_dsa_notice=True))
    dsa = anonymous["forum.example.eu-dsa"].body
    for personal in ("Alex Example", "alex@example.org", "+1 555 0100", "alex-2026-05"):
        assert personal not in dsa, personal
    anonymous_case = _case(under_18_when_taken=True, anonymous_dsa_notice=True)
    eml = bytes(to_email(anonymous["forum.example.eu-dsa"], anonymous_case, START)).decode()
    assert "alex" not in eml.lower() and "From:" not in eml
    flat = _flat(dsa)
    assert "Article 16(2)(c) of the Digital Services Act does not require them" in flat
    assert "Articles 3 to 7 of Directive 2011/93/EU" in flat
    assert "Article 16(4)" not in flat and "timely, diligent, non-arbitrary" in flat
    # TAKE IT DOWN still needs contact information and a signature (s. 223a(a)(1)(B)(i), (iv)).
    take_it_down = anonymous["imagehost.example-take_it_down"].body
    assert "Email: alex@example.org" in take_it_down and "/s/ Alex Example" in take_it_down


def test_an_anonymous_dsa_notice_needs_an_under_18_case(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text(SAMPLE.read_text() + "anonymous_dsa_notice: true\n")
    with pytest.raises(CaseFileError, match="anonymous_dsa_notice needs under_18_when_taken"):
        load_case(path)
