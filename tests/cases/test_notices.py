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
from hashwall.cases.casefile import CaseFileError, NoticeForm, load_case
from hashwall.cases.notices import FOOTER, NoticeError, render_all, to_email
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
        "board.example.au-esafety.txt",
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
        "board.example.au-esafety.txt",
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
            [  # TAKE IT DOWN Act s. 3(a)(1)(B)(i)-(iv)
                "/s/ Alex Example",
                "https://imagehost.example/i/def456",
                "good faith belief that the intimate visual depiction identified above is not "
                "consensual",
                "Email: alex@example.org",
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
            ],
        ),
        ("board.example.au-esafety.txt", ["https://board.example.au/p/77", "esafety.gov.au"]),
    ],
)
def test_legal_elements_present(name: str, required: list[str]) -> None:
    text = " ".join(notices()[name].split())
    for element in required:
        assert " ".join(element.split()) in text, element


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
    with pytest.raises(NoticeError, match="no notice form is defined for UK"):
        render_all(case, START)
    with pytest.raises(NoticeError, match="signature is missing"):
        render_all(load_case(SAMPLE).model_copy(update={"signature": None}), START)


def test_eml_structure() -> None:
    case = load_case(SAMPLE)
    by_form = {n.form: n for n in render_all(case, START)}
    raw = bytes(to_email(by_form[NoticeForm.DSA], case, START))
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["To"] == "notices@forum.example.eu"
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
