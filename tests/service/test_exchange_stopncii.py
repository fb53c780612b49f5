"""StopNCII fetch against a fake StopNCII server on 127.0.0.1 serving canned pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("threatexchange", reason="python-threatexchange is not installed")

from typer.testing import CliRunner

from hashwall.cli.app import app as cli_app
from tests.service.conftest import Api
from tests.service.exchange_helpers import Reply, fake_server, json_reply, matches
from tests.service.test_api_core import PDQ_A, flip

PDQ_C = flip(PDQ_A, 128)
PDQ_D = flip(PDQ_A, 200)
PDQ_E = flip(PDQ_A, 64)
MD5 = "0123456789ABCDEF0123456789ABCDEF"
FETCH_KEY, SUBSCRIPTION = "fetch-fn-key", "subscription-key"


def record(kind: str, value: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "lastModtimestamp": 100,
        "signalType": kind,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": extra.pop("cases", {"case-1": status}),
        "CSPFeedbacks": extra.pop("feedback", []),
        **extra,
    }


def page(records: list[dict[str, Any]], next_set: int, token: str | None = None) -> dict[str, Any]:
    return {
        "count": len(records),
        "nextPageToken": token,
        "nextSetTimestamp": next_set,
        "hasMoreRecords": token is not None,
        "hashRecords": records,
    }


@dataclass
class FakeStopNCII:
    """Pages keyed by (startTimestamp, nextPageToken); every request is logged."""

    pages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    fail_with: int | None = None
    url: str = ""


@pytest.fixture
def stopncii(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStopNCII]:
    fake = FakeStopNCII()

    def answer(path: str, query: dict[str, str], headers: Message) -> Reply:
        fake.requests.append({"path": path, **query})
        authorized = (
            headers.get("x-functions-key") == FETCH_KEY
            and headers.get("Ocp-Apim-Subscription-Key") == SUBSCRIPTION
        )
        key = (query.get("startTimestamp", ""), query.get("nextPageToken", ""))
        if fake.fail_with or not authorized:
            return json_reply(fake.fail_with or 401, {"error": "no"})
        if path != "/v1/FetchHashes" or key not in fake.pages:
            return json_reply(404, {"error": f"unexpected {key}"})
        return json_reply(200, fake.pages[key])

    with fake_server(monkeypatch, answer) as base:
        fake.url = f"{base}/v1"
        monkeypatch.setenv("HASHWALL_STOPNCII_KEYS", f"{FETCH_KEY},{SUBSCRIPTION},{fake.url}")
        yield fake


def fetch(api: Api, bank_id: int, role: str = "curator") -> Any:
    return api.call("POST", f"/v1/banks/{bank_id}/exchange/stopncii/fetch", role)


def entries(api: Api, bank_id: int) -> dict[str, dict[str, Any]]:
    listed = api.call("GET", f"/v1/banks/{bank_id}/entries", "curator").json()["entries"]
    return {
        e["metadata"]["stopncii"]["signal_type"] + ":" + e["signals"][0]["value"]
        if e["signals"]
        else f"deleted:{e['id']}": e
        for e in listed
    }


def test_incremental_fetch_maps_states_and_resumes(api: Api, stopncii: FakeStopNCII) -> None:
    bank = int(str(api.create_bank("stopncii")["id"]))
    feedback = [{"feedbackValue": "Blocked", "tags": ["nudity"], "source": "csp-a"}]
    stopncii.pages[("10", "")] = page(
        [
            record("ImagePDQ", PDQ_A, "Active", feedback=feedback),
            record("VideoMD5", MD5, "Received", cases=[]),
            record("VideoTMK", "abc", "Active"),
        ],
        1000,
        token="p2",
    )
    stopncii.pages[("10", "p2")] = page(
        [record("ImagePDQ", PDQ_C, "Active"), record("ImagePDQ", PDQ_D, "Withdrawn")], 2000
    )
    first = fetch(api, bank)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["skipped"], body["details"]["pages"]) == (3, 2, 2)
    assert body["details"]["checkpoint"] == 2000
    stored = entries(api, bank)
    photo = stored[f"ImagePDQ:{PDQ_A}"]
    assert (photo["state"], photo["content_type"], photo["case_ref"]) == (
        "active",
        "photo",
        "case-1",
    )
    assert photo["metadata"]["stopncii"]["feedback"][0] == {
        "source": "csp-a",
        "value": "Blocked",
        "tags": ["nudity"],
    }
    assert stored[f"VideoMD5:{MD5.lower()}"]["content_type"] == "video"
    assert matches(api, "pdq", flip(PDQ_A, 3)) and matches(api, "md5", MD5.lower())
    assert not matches(api, "pdq", PDQ_D)

    # The second run asks from the stored checkpoint and applies withdrawals and deletions.
    stopncii.pages[("2000", "")] = page(
        [
            record("ImagePDQ", PDQ_A, "Withdrawn"),
            record("ImagePDQ", PDQ_C, "Deleted"),
            record("ImagePDQ", PDQ_E, "Active"),
        ],
        3000,
    )
    second = fetch(api, bank).json()
    assert (second["created"], second["updated"]) == (1, 2)
    assert [r["startTimestamp"] for r in stopncii.requests] == ["10", "10", "2000"]
    assert not matches(api, "pdq", PDQ_A)
    assert not matches(api, "pdq", PDQ_C)
    assert matches(api, "pdq", PDQ_E)
    stored = entries(api, bank)
    assert stored[f"ImagePDQ:{PDQ_A}"]["state"] == "withdrawn"
    deleted = [e for e in stored.values() if e["state"] == "deleted"]
    assert len(deleted) == 1 and deleted[0]["signals"] == []
    assert len(stored) == 4

    # Nothing new: nothing changes; a re-activation of the deleted hash cannot revive it.
    stopncii.pages[("3000", "")] = page([record("ImagePDQ", PDQ_C, "Active")], 3000)
    third = fetch(api, bank).json()
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 0, 1)
    assert not matches(api, "pdq", PDQ_C)


def test_fetch_errors_keep_the_checkpoint(
    api: Api, stopncii: FakeStopNCII, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = int(str(api.create_bank("stopncii")["id"]))
    stopncii.pages[("10", "")] = page([record("ImagePDQ", PDQ_A, "Active")], 500)
    assert fetch(api, bank).json()["created"] == 1
    stopncii.fail_with = 403
    failed = fetch(api, bank)
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["field"] == "stopncii"
    assert FETCH_KEY not in failed.text and SUBSCRIPTION not in failed.text
    stopncii.fail_with = None
    stopncii.pages[("500", "")] = page([], 500)
    assert fetch(api, bank).json()["status"] == "applied"
    assert stopncii.requests[-1]["startTimestamp"] == "500"
    assert fetch(api, bank, role="matcher").status_code == 403
    monkeypatch.delenv("HASHWALL_STOPNCII_KEYS")
    missing = fetch(api, bank)
    assert missing.status_code == 409 and "HASHWALL_STOPNCII_KEYS" in missing.text


def test_cli_fetch_uses_the_same_checkpoint(
    api: Api, stopncii: FakeStopNCII, tmp_path: Path
) -> None:
    bank = int(str(api.create_bank("sncii")["id"]))
    stopncii.pages[("10", "")] = page([record("ImagePDQ", PDQ_A, "Active")], 700)
    stopncii.pages[("700", "")] = page([record("ImagePDQ", PDQ_A, "Deleted")], 800)
    url = api.settings.resolved_database_url()
    runner = CliRunner()
    for expected in ({"created": 1, "checkpoint": 700}, {"updated": 1, "checkpoint": 800}):
        result = runner.invoke(
            cli_app, ["exchange", "stopncii", "--bank", "sncii", "--database-url", url]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.splitlines()[-1])
        assert {k: summary[k] for k in expected} == expected
    # The server learns of the deletion from the change log (its tailer polls every 0.1 s).
    import time

    deadline = time.monotonic() + 5
    while matches(api, "pdq", PDQ_A) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not matches(api, "pdq", PDQ_A)
    assert bank
