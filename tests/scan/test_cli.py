"""``hashwall scan`` and ``hashwall scan report`` from the command line, down to the notices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashwall.cli.app import app
from tests.scan.conftest import Pictures
from tests.scan.support import Response, edited, warc_bytes

runner = CliRunner()


def crawl(tmp_path: Path, p: Pictures) -> Path:
    archive = tmp_path / "crawl.warc.gz"
    archive.write_bytes(
        warc_bytes(
            [
                Response("http://a.example/known.jpg", p.known),
                Response("http://a.example/again.jpg", edited(p.known)),
                Response("http://b.example/copy.jpg", edited(p.other_known)),
                Response("http://c.example/holiday.jpg", p.unrelated),
            ]
        )
    )
    return archive


def test_scan_writes_findings_and_a_summary(tmp_path: Path, pictures: Pictures) -> None:
    findings, summary = tmp_path / "findings.jsonl", tmp_path / "summary.json"
    result = runner.invoke(
        app,
        [
            "scan",
            str(crawl(tmp_path, pictures)),
            "-a",
            str(pictures.bank),
            "-o",
            str(findings),
            "--summary",
            str(summary),
            "-j",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(findings.read_text().splitlines()) == 3
    counts = json.loads(summary.read_text())
    assert (counts["items_seen"], counts["media_hashed"], counts["matches"]) == (4, 4, 3)


def test_scan_then_report_then_notices(tmp_path: Path, pictures: Pictures) -> None:
    findings = tmp_path / "findings.jsonl"
    archive = crawl(tmp_path, pictures)
    ran = runner.invoke(
        app, ["scan", str(archive), "-a", str(pictures.bank), "-o", str(findings), "-j", "1"]
    )
    assert ran.exit_code == 0, ran.output
    case = tmp_path / "case.yaml"
    reported = runner.invoke(
        app,
        [
            "scan",
            "report",
            str(findings),
            "-o",
            str(case),
            "--case-id",
            "scan-1",
            "--requester-name",
            "Hotline Analyst",
            "--requester-email",
            "analyst@hotline.example.org",
            "--authority",
            "written authorisation from the person shown",
            "--description",
            "A private photograph shared without consent.",
            "--jurisdiction",
            "EU",
            "--signature",
            "Hotline Analyst",
        ],
    )
    assert reported.exit_code == 0, reported.output
    hosts = [json.loads(line) for line in reported.stdout.splitlines()]
    assert hosts == [
        {"host": "a.example", "urls": 2, "findings": 2},
        {"host": "b.example", "urls": 1, "findings": 1},
    ]
    notices = tmp_path / "notices"
    generated = runner.invoke(
        app, ["notice", "generate", "--case", str(case), "-o", str(notices), "--formats", "txt"]
    )
    assert generated.exit_code == 0, generated.output
    written = sorted(path.name for path in notices.iterdir())
    assert written and all(name.startswith(("a.example", "b.example")) for name in written)
    text = (notices / written[0]).read_text()
    assert "http://a.example/known.jpg" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["missing.warc.gz"], "no such file"),
        (["{archive}", "-a", "{tmp}/nope.jsonl"], "no such file"),
        (["{archive}"], "--against"),
        (["{archive}", "--checkpoint", "{tmp}/c"], "--checkpoint needs --output"),
        (["{archive}", "-o", "{tmp}/no/such/folder.jsonl"], "folder does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    tmp_path: Path, pictures: Pictures, arguments: list[str], message: str
) -> None:
    archive = crawl(tmp_path, pictures)
    filled = [a.format(archive=archive, tmp=tmp_path) for a in arguments]
    if "-a" not in filled and message != "--against":
        filled += ["-a", str(pictures.bank)]
    result = runner.invoke(app, ["scan", *filled])
    assert result.exit_code == 2
    assert message in result.output


def test_report_refuses_findings_without_urls(tmp_path: Path, pictures: Pictures) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "copy.jpg").write_bytes(pictures.known)
    findings = tmp_path / "findings.jsonl"
    ran = runner.invoke(
        app, ["scan", str(folder), "-a", str(pictures.bank), "-o", str(findings), "-j", "1"]
    )
    assert ran.exit_code == 0 and findings.read_text()
    result = runner.invoke(
        app,
        [
            "scan",
            "report",
            str(findings),
            "-o",
            str(tmp_path / "case.yaml"),
            "--case-id",
            "c",
            "--requester-name",
            "A",
            "--requester-email",
            "a@b.example.org",
            "--description",
            "d",
            "--jurisdiction",
            "US",
        ],
    )
    assert result.exit_code == 2
    assert "no host" in result.output


def test_skipped_lists_each_skip_with_its_source(tmp_path: Path, pictures: Pictures) -> None:
    archive = tmp_path / "mixed.warc.gz"
    archive.write_bytes(
        warc_bytes(
            [
                Response("http://a.example/page", b"<html>hi</html>", "text/html"),
                Response("http://a.example/broken.jpg", pictures.known[:700]),
            ]
        )
    )
    skipped = tmp_path / "skipped.jsonl"
    result = runner.invoke(
        app,
        ["scan", str(archive), "-a", str(pictures.bank), "--skipped", str(skipped), "-j", "1"],
    )
    assert result.exit_code == 0, result.output
    lines = sorted(
        (data["skip"], data["source"]["url"])
        for data in map(json.loads, skipped.read_text().splitlines())
    )
    assert lines == [
        ("decode_error", "http://a.example/broken.jpg"),
        ("non_media", "http://a.example/page"),
    ]
