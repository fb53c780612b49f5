"""Exchanges: signed hashwall bundles and python-threatexchange files (API and CLI)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("threatexchange", reason="python-threatexchange is not installed")

from threatexchange.exchanges.fetch_state import SignalOpinionCategory
from threatexchange.exchanges.impl.file_api import (
    FileCollaborationConfig,
    LocalFileSignalExchangeAPI,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from typer.testing import CliRunner

from hashwall.cli.app import app as cli_app
from tests.service.conftest import Api
from tests.service.test_api_core import PDQ_A, add, flip, match

KEY = "exchange-test-key-0123456789"
PDQ_C = flip(PDQ_A, 128)
MD5 = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def exchange_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWALL_EXCHANGE_KEY", KEY)
    monkeypatch.delenv("HASHWALL_EXCHANGE_KEY_FILE", raising=False)


def export(api: Api, bank_id: int, fmt: str = "bundle", role: str = "curator") -> Any:
    return api.call("POST", f"/v1/banks/{bank_id}/exchange/export?format={fmt}", role)


def import_file(api: Api, bank_id: int, data: bytes, fmt: str = "auto") -> Any:
    return api.call(
        "POST",
        f"/v1/banks/{bank_id}/exchange/import",
        "curator",
        files={"file": ("bank.jsonl", data, "application/octet-stream")},
        data={"format": fmt},
    )


def entries(api: Api, bank_id: int) -> list[dict[str, Any]]:
    response = api.call("GET", f"/v1/banks/{bank_id}/entries", "curator")
    assert response.status_code == 200, response.text
    return response.json()["entries"]  # type: ignore[no-any-return]


def matched_banks(api: Api, value: str) -> set[int]:
    result = match(api, {"signal_type": "pdq", "signal_value": value})["results"][0]
    return {group["bank_id"] for group in result["banks"]}


def seeded(api: Api, name: str = "source") -> tuple[int, dict[str, Any], dict[str, Any]]:
    bank = api.create_bank(name)
    bank_id = int(str(bank["id"]))
    body = {
        "hashes": [{"signal_type": "pdq", "signal_value": PDQ_A}],
        "label": "case 1",
        "case_ref": "CASE-1",
        "source": "helpline",
        "metadata": {"tags": ["ncii", "verified"], "reporter": "advocate"},
    }
    first = api.call("POST", f"/v1/banks/{bank_id}/entries", "curator", json=body).json()
    second = add(api, bank_id, ("pdq", PDQ_C), ("md5", MD5))
    return bank_id, first, second


def test_bundle_shares_entries_then_withdrawals_idempotently(api: Api) -> None:
    source, first, _second = seeded(api)
    target = int(str(api.create_bank("copy")["id"]))
    bundle1 = export(api, source)
    assert bundle1.status_code == 200, bundle1.text
    assert bundle1.headers["x-hashwall-sequence"] == "1"

    applied = import_file(api, target, bundle1.content)
    assert applied.status_code == 200, applied.text
    assert (applied.json()["status"], applied.json()["created"]) == ("applied", 2)
    copied = {e["label"]: e for e in entries(api, target)}
    assert copied["case 1"]["case_ref"] == "CASE-1"
    assert copied["case 1"]["metadata"] == {"tags": ["ncii", "verified"], "reporter": "advocate"}
    assert matched_banks(api, flip(PDQ_A, 2)) == {source, target}

    # The same bundle again changes nothing.
    again = import_file(api, target, bundle1.content).json()
    assert (again["status"], again["created"]) == ("already_applied", 0)
    assert len(entries(api, target)) == 2

    # A withdrawal at the source travels in the next bundle and stops matching at once.
    assert api.call("POST", f"/v1/entries/{first['id']}/withdraw", "curator").status_code == 200
    bundle2 = export(api, source)
    assert bundle2.headers["x-hashwall-sequence"] == "2"
    update = import_file(api, target, bundle2.content).json()
    assert (update["status"], update["updated"], update["created"]) == ("applied", 1, 0)
    assert matched_banks(api, PDQ_A) == set()
    assert {e["state"] for e in entries(api, target)} == {"active", "withdrawn"}

    # An older bundle cannot resurrect the withdrawn entry.
    stale = import_file(api, target, bundle1.content).json()
    assert stale["status"] == "already_applied"
    assert matched_banks(api, PDQ_A) == set()

    # A deletion erases the copy's hashes too.
    assert api.call("DELETE", f"/v1/entries/{first['id']}", "curator").status_code == 200
    import_file(api, target, export(api, source).content)
    deleted = [e for e in entries(api, target) if e["state"] == "deleted"]
    assert len(deleted) == 1 and deleted[0]["signals"] == []


def _rewrite(bundle: bytes, edit: Any, *, fix_checksum: bool) -> bytes:
    lines = bundle.splitlines(keepends=True)
    body = [edit(line) if i == 1 else line for i, line in enumerate(lines[:-1])]
    end = json.loads(lines[-1])
    if fix_checksum:
        end["end"]["sha256"] = hashlib.sha256(b"".join(body)).hexdigest()
    return b"".join(body) + json.dumps(end).encode() + b"\n"


def test_tampered_truncated_or_foreign_bundles_are_refused_whole(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _first, _second = seeded(api)
    target = int(str(api.create_bank("copy")["id"]))
    bundle = export(api, source).content
    swap = PDQ_A.encode()

    def evil(line: bytes) -> bytes:
        return line.replace(swap, flip(PDQ_A, 1).encode())

    cases = {
        "checksum mismatch": _rewrite(bundle, evil, fix_checksum=False),
        "signature mismatch": _rewrite(bundle, evil, fix_checksum=True),
        "no end line": b"".join(bundle.splitlines(keepends=True)[:-1]),
    }
    for reason, data in cases.items():
        response = import_file(api, target, data, "bundle")
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["field"] == "file" and reason in error["message"], (reason, error)
        assert "nothing was imported" in error["message"]
    monkeypatch.setenv("HASHWALL_EXCHANGE_KEY", "another-key-0123456789")
    response = import_file(api, target, bundle, "bundle")
    assert "signature mismatch" in response.json()["error"]["message"]
    assert entries(api, target) == []
    assert matched_banks(api, flip(PDQ_A, 1)) == {source}


def test_bundle_needs_a_key_a_curator_and_another_bank(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, _first, _second = seeded(api)
    assert export(api, source, role="matcher").status_code == 403
    assert export(api, source, role="reviewer").status_code == 403
    assert export(api, 999_999).status_code == 404
    own = import_file(api, source, export(api, source).content)
    assert own.status_code == 409 and "this very bank" in own.json()["error"]["message"]
    monkeypatch.delenv("HASHWALL_EXCHANGE_KEY")
    refused = export(api, source)
    assert refused.status_code == 409
    assert "HASHWALL_EXCHANGE_KEY" in refused.json()["error"]["message"]
    assert KEY not in refused.text


def test_pytx_local_file_export_reads_back_with_threatexchange(api: Api, tmp_path: Path) -> None:
    source, first, _second = seeded(api)
    withdrawn = add(api, source, ("pdq", flip(PDQ_A, 200)))
    api.call("POST", f"/v1/entries/{withdrawn['id']}/withdraw", "curator")
    response = export(api, source, "pytx")
    assert response.status_code == 200, response.text
    path = tmp_path / "bank.txt"
    path.write_bytes(response.content)

    collab = FileCollaborationConfig(name="from hashwall", filename=str(path))
    deltas = list(LocalFileSignalExchangeAPI(collab).fetch_iter([], None))
    signals = {key for delta in deltas for key in delta.updates}
    assert signals == {("pdq", PDQ_A), ("pdq", PDQ_C), ("video_md5", MD5)}
    for name, value in signals:
        cls = PdqSignal if name == "pdq" else VideoMD5Signal
        assert cls.validate_signal_str(value) == value

    # Imported back into another bank: one entry per hash, matching again; re-import is a no-op.
    target = int(str(api.create_bank("from-pytx")["id"]))
    result = import_file(api, target, response.content).json()
    assert (result["created"], result["details"]["format"]) == (3, "pytx")
    assert target in matched_banks(api, flip(PDQ_C, 4))
    assert import_file(api, target, response.content).json()["created"] == 0
    assert first["id"] not in {e["id"] for e in entries(api, target)}


def test_pytx_csv_keeps_metadata_and_entries(api: Api) -> None:
    source, _first, _second = seeded(api)
    negative = int(str(api.create_bank("known-fp", negative=True)["id"]))
    add(api, negative, ("pdq", flip(PDQ_A, 100)))
    response = export(api, source, "pytx-csv")
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3
    for row in rows:
        assert SignalOpinionCategory[row["category"]] is SignalOpinionCategory.POSITIVE_CLASS
        assert row["collab"] == "source"
        cls = PdqSignal if row["signal_type"] == "pdq" else VideoMD5Signal
        cls.validate_signal_str(row["signal_str"])
    tagged = next(r for r in rows if r["signal_str"] == PDQ_A)
    assert tagged["tags"] == "ncii verified"
    fp_rows = list(csv.DictReader(io.StringIO(export(api, negative, "pytx-csv").text)))
    assert fp_rows[0]["category"] == "NEGATIVE_CLASS"

    target = int(str(api.create_bank("from-csv")["id"]))
    result = import_file(api, target, response.content)
    assert result.status_code == 200, result.text
    assert result.json()["created"] == 2  # the pdq+md5 entry stays one entry
    by_label = {e["label"]: e for e in entries(api, target)}
    assert by_label["case 1"]["metadata"]["reporter"] == "advocate"
    assert by_label["case 1"]["case_ref"] == "CASE-1"
    both = next(e for e in by_label.values() if len(e["signals"]) == 2)
    assert {s["signal_type"] for s in both["signals"]} == {"pdq", "md5"}


def test_bad_pytx_files_import_nothing(api: Api) -> None:
    bank = int(str(api.create_bank("strict")["id"]))
    bad = {
        b"pdq " + PDQ_A.encode() + b"\npdq nothex\n": "invalid pdq value",
        b"pdq " + PDQ_A.encode() + b"\nurl https://example.org/x\n": "unsupported signal type",
        b"signal_type,signal_value\npdq," + PDQ_A.encode() + b"\nmd5,zz\n": "file line 3",
        b"signal_type,wrong\npdq,abc\n": "header",
        b"\n\n": "empty",
    }
    for data, reason in bad.items():
        response = import_file(api, bank, data)
        assert response.status_code == 422, (data, response.text)
        assert reason in response.json()["error"]["message"], response.json()
    assert entries(api, bank) == []


def test_cli_exchange_between_two_databases(api: Api, tmp_path: Path) -> None:
    seeded(api)
    key_file = tmp_path / "exchange.key"
    key_file.write_text("a-shared-air-gap-key-0123\n")
    source_url = api.settings.resolved_database_url()
    target_url = f"sqlite:///{tmp_path / 'other.db'}"
    runner = CliRunner()
    out = tmp_path / "media" / "source.hwx.jsonl"
    base = ["exchange", "export", "--bank", "source", "--out", str(out)]
    exported = runner.invoke(
        cli_app, [*base, "--key-file", str(key_file), "--database-url", source_url]
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["entries"] == 2
    import_args = [
        *("exchange", "import", str(out), "--bank", "mirror"),
        *("--key-file", str(key_file), "--database-url", target_url),
    ]
    imported = runner.invoke(cli_app, import_args)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout.splitlines()[-1])["created"] == 2
    again = runner.invoke(cli_app, import_args)  # the same file again: nothing new
    assert json.loads(again.stdout.splitlines()[-1])["status"] == "already_applied"

    wrong = tmp_path / "wrong.key"
    wrong.write_text("not-the-shared-key-987654\n")
    refused = runner.invoke(
        cli_app,
        [
            "exchange",
            "import",
            str(out),
            "--bank",
            "mirror",
            "--key-file",
            str(wrong),
            "--database-url",
            target_url,
        ],
    )
    assert refused.exit_code == 2
    assert "signature mismatch" in refused.output

    pytx_out = tmp_path / "source.txt"
    as_pytx = runner.invoke(
        cli_app,
        [
            "exchange",
            "export",
            "--bank",
            "source",
            "--out",
            str(pytx_out),
            "--format",
            "pytx",
            "--database-url",
            source_url,
        ],
    )
    assert as_pytx.exit_code == 0, as_pytx.output
    assert pytx_out.read_text().splitlines()[0] == f"pdq {PDQ_A}"
    missing = runner.invoke(
        cli_app,
        [
            "exchange",
            "export",
            "--bank",
            "nope",
            "--out",
            str(pytx_out),
            "--format",
            "pytx",
            "--database-url",
            source_url,
        ],
    )
    assert missing.exit_code == 2 and "no bank named 'nope'" in missing.output


@pytest.mark.parametrize("fmt", ["pytx", "pytx-csv"])
def test_an_exported_bank_is_an_offline_hash_list(api: Api, tmp_path: Path, fmt: str) -> None:
    """A running service's bank, exported as pytx, is what ``hashwall match --against`` and
    ``hashwall scan`` read: millions of lookups against a file, none over HTTP."""
    from hashwall.matching import load_hash_list

    source, _first, _second = seeded(api)
    response = export(api, source, fmt)
    assert response.status_code == 200, response.text
    path = tmp_path / f"bank.{fmt}"
    path.write_bytes(response.content)
    listing = load_hash_list(path)
    pdqs = {e.record.pdq.hash for e in listing.entries if e.record.pdq is not None}
    md5s = {e.record.md5 for e in listing.entries if e.record.md5}
    assert (pdqs, md5s) == ({PDQ_A, PDQ_C}, {MD5})
