"""A rerun with the same checkpoint skips finished sources and never writes a finding twice."""

from __future__ import annotations

import json
from pathlib import Path

from hashwall.hashing.options import HashOptions
from hashwall.scan.banks import BankSpec
from hashwall.scan.checkpoint import Checkpoint, written_findings
from hashwall.scan.pipeline import ScanConfig, run_scan
from hashwall.scan.summary import Summary
from hashwall.scan.worker import WorkerConfig
from tests.scan.conftest import Pictures
from tests.scan.support import Response, edited, warc_bytes


def sources(tmp_path: Path, p: Pictures) -> list[Path]:
    first, second = tmp_path / "one.warc.gz", tmp_path / "two.warc.gz"
    first.write_bytes(warc_bytes([Response("http://a.example/1.jpg", p.known)]))
    second.write_bytes(
        warc_bytes(
            [
                Response("http://b.example/2.jpg", edited(p.other_known)),
                Response("http://b.example/3.jpg", p.unrelated),
            ]
        )
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "copy.jpg").write_bytes(p.known)
    return [first, second, folder]


def resume(paths: list[Path], bank: Path, findings: Path, state: Path) -> Summary:
    """What ``hashwall scan --checkpoint`` does: append, skipping what is done or written."""
    config = ScanConfig(WorkerConfig(BankSpec((str(bank),)), HashOptions()), tuple(paths))
    checkpoint = Checkpoint(state)
    written = written_findings(findings)
    try:
        with findings.open("a", encoding="utf-8") as out:
            return run_scan(config, out, checkpoint, written)
    finally:
        checkpoint.close()


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_finished_scan_reruns_to_nothing(tmp_path: Path, pictures: Pictures) -> None:
    paths = sources(tmp_path, pictures)
    findings, state = tmp_path / "findings.jsonl", tmp_path / "scan.checkpoint"
    first = resume(paths, pictures.bank, findings, state)
    assert first.matches == 3 and first.units_done == 3
    before = lines(findings)
    again = resume(paths, pictures.bank, findings, state)
    assert lines(findings) == before
    assert (again.units_resumed, again.units_done, again.items_seen) == (3, 0, 0)


def test_an_interrupted_scan_resumes_without_duplicates(tmp_path: Path, pictures: Pictures) -> None:
    paths = sources(tmp_path, pictures)
    complete, state = tmp_path / "complete.jsonl", tmp_path / "complete.checkpoint"
    resume(paths, pictures.bank, complete, state)
    expected = sorted(lines(complete))
    # A kill after the second WARC's finding was written, before it was checkpointed, while
    # a line of the folder's finding was half written.
    done = [json.loads(line)["done"] for line in lines(state)]
    second = next(line for line in lines(complete) if "b.example" in line)
    findings, partial = tmp_path / "findings.jsonl", tmp_path / "scan.checkpoint"
    first_unit = next(unit for unit in done if unit.endswith("one.warc.gz"))
    partial.write_text(json.dumps({"done": first_unit}) + "\n")
    first = next(line for line in lines(complete) if "a.example" in line)
    findings.write_text(first + "\n" + second + "\n")
    summary = resume(paths, pictures.bank, findings, partial)
    assert sorted(lines(findings)) == expected
    assert summary.units_resumed == 1
    assert summary.units_done == 2
    assert summary.matches == 1  # only the folder's; the second WARC's was already there
