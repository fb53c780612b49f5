"""ThreatExchange (Graph API) fetch against a fake Graph API server on 127.0.0.1.

The fake answers ``GET /v26.0/{privacy_group}/threat_updates/`` as the Graph API does: the
``access_token``/``start_time``/``types``/``limit`` query, ``{"data": [...], "paging":
{"next": URL}}`` pages whose ``next`` URL carries everything (pytx clears its parameters after
the first page), and ``{"error": ...}`` with a 4xx status on failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import urlencode

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
MD5_VIDEO = "0123456789abcdef0123456789abcdef"
MD5_TAGGED = "fedcba9876543210fedcba9876543210"
TOKEN = "123456789012|" + "s3cr3t-app-secret-0123456789"
GROUP, OWNER = 1234567, 987654321
PAGE = 3
TYPES = "HASH_MD5,HASH_PDQ,HASH_SHA256,HASH_VIDEO_MD5,HASH_VIDEO_SHA256"


def update(
    kind: str,
    indicator: str,
    ts: int,
    *,
    status: str = "MALICIOUS",
    tags: tuple[str, ...] = (),
    delete: bool = False,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": str(abs(hash((kind, indicator))) % 10**12),
        "indicator": indicator,
        "type": kind,
        "last_updated": ts,
        "should_delete": delete,
    }
    if not delete:
        descriptor = {
            "id": str(ts * 7),
            "owner": {"id": str(OWNER)},
            "status": status,
            "tags": {"data": [{"id": str(i), "text": tag} for i, tag in enumerate(tags)]},
            "reactions": [],
        }
        record["descriptors"] = {"data": [descriptor]}
    return record


@dataclass
class FakeGraph:
    updates: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    #: Answer 400 to the page that starts at this offset.
    fail_at: int | None = None
    url: str = ""

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if query.get("access_token") != TOKEN:
            return 400, {"error": {"message": "Invalid OAuth access token.", "code": 190}}
        if path != f"/v26.0/{GROUP}/threat_updates/":
            return 404, {"error": {"message": f"unknown path {path}"}}
        offset = int(query.get("after", "0"))
        if offset == self.fail_at:
            return 400, {"error": {"message": "(#100) try again", "code": 100}}
        since = int(query.get("start_time") or 0)
        wanted = set(query.get("types", "").split(","))
        found = [u for u in self.updates if u.get("last_updated", since) >= since]
        found = [u for u in found if u.get("type") in wanted or "type" not in u]
        found.sort(key=lambda u: int(u.get("last_updated", 0)))
        body: dict[str, Any] = {"data": found[offset : offset + PAGE]}
        if offset + PAGE < len(found):
            params = {**query, "after": offset + PAGE}
            body["paging"] = {"next": f"{self.url}/{GROUP}/threat_updates/?{urlencode(params)}"}
        return 200, body


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    fake = FakeGraph()

    def answer(path: str, query: dict[str, str], headers: Message) -> Reply:
        fake.requests.append(query)
        return json_reply(*fake.answer(path, query))

    with fake_server(monkeypatch, answer) as base:
        fake.url = f"{base}/v26.0"
        monkeypatch.setenv("HASHWALL_THREATEXCHANGE_TOKEN", TOKEN)
        monkeypatch.setenv("HASHWALL_THREATEXCHANGE_PRIVACY_GROUP", str(GROUP))
        monkeypatch.setenv("HASHWALL_THREATEXCHANGE_URL", fake.url)
        yield fake


def fetch(api: Api, bank_id: int, role: str = "curator", **query: Any) -> Any:
    url = f"/v1/banks/{bank_id}/exchange/threatexchange/fetch"
    return api.call("POST", url, role, params=query)


def stored(api: Api, bank_id: int) -> dict[str, dict[str, Any]]:
    listed = api.call("GET", f"/v1/banks/{bank_id}/entries", "curator").json()["entries"]
    return {e["signals"][0]["value"]: e for e in listed if e["signals"]}


def test_incremental_fetch_maps_types_opinions_and_deletions(api: Api, graph: FakeGraph) -> None:
    bank = int(str(api.create_bank("te")["id"]))
    malformed = update("HASH_PDQ", PDQ_C, 1004)
    del malformed["type"]
    graph.updates += [
        update("HASH_PDQ", PDQ_A, 1000, tags=("nsfw",)),
        update("HASH_VIDEO_MD5", MD5_VIDEO, 1001),
        update("HASH_MD5", MD5_TAGGED, 1002, tags=("media_type_video",)),
        update("HASH_PDQ", "zz" * 32, 1003),  # not hex: skipped
        malformed,  # no type: skipped
        update("HASH_PDQ", PDQ_D, 1005, status="NON_MALICIOUS"),  # first seen benign
    ]
    first = fetch(api, bank)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["skipped"]) == (3, 3), body
    assert body["details"]["ignored_signals"] == {"HASH_PDQ (invalid)": 1}
    assert (body["details"]["pages"], body["details"]["checkpoint"]) == (2, 1005)
    assert graph.requests[0]["types"] == TYPES and "start_time" not in graph.requests[0]
    entries = stored(api, bank)
    photo = entries[PDQ_A]
    assert (photo["state"], photo["content_type"], photo["source"]) == (
        "active",
        "photo",
        "threatexchange",
    )
    opinion = photo["metadata"]["threatexchange"]["opinions"][0]
    assert opinion == {
        "app_id": OWNER,
        "descriptor_id": 7000,
        "category": "POSITIVE_CLASS",
        "tags": ["nsfw"],
    }
    assert entries[MD5_VIDEO]["content_type"] == "video"
    assert entries[MD5_TAGGED]["content_type"] == "video"
    assert matches(api, "pdq", flip(PDQ_A, 3)) and matches(api, "md5", MD5_VIDEO)
    assert not matches(api, "pdq", PDQ_D)

    # The second run asks from the checkpoint: a tombstone and a NON_MALICIOUS verdict
    # withdraw, a new indicator is added.
    graph.updates += [
        update("HASH_PDQ", PDQ_A, 1010, delete=True),
        update("HASH_VIDEO_MD5", MD5_VIDEO, 1011, status="NON_MALICIOUS"),
        update("HASH_PDQ", PDQ_E, 1012),
    ]
    asked = len(graph.requests)
    second = fetch(api, bank).json()
    assert graph.requests[asked]["start_time"] == "1005"
    assert (second["created"], second["updated"]) == (1, 2), second
    assert second["details"]["checkpoint"] == 1012
    assert not matches(api, "pdq", PDQ_A) and not matches(api, "md5", MD5_VIDEO)
    assert matches(api, "pdq", PDQ_E) and matches(api, "md5", MD5_TAGGED)
    assert stored(api, bank)[PDQ_A]["state"] == "withdrawn"

    # Shared again: withdrawn, not deleted, so the indicator comes back.
    graph.updates.append(update("HASH_PDQ", PDQ_A, 1020))
    third = fetch(api, bank).json()
    assert (third["created"], third["updated"]) == (0, 1), third
    assert matches(api, "pdq", PDQ_A)


def test_failure_keeps_pages_and_resumes(api: Api, graph: FakeGraph) -> None:
    bank = int(str(api.create_bank("te")["id"]))
    values = [flip(PDQ_A, bits) for bits in (0, 40, 80, 120, 160)]
    graph.updates += [update("HASH_PDQ", v, 2000 + i) for i, v in enumerate(values)]
    graph.fail_at = PAGE
    failed = fetch(api, bank)
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["field"] == "threatexchange"
    assert "HTTP 400" in failed.text
    assert TOKEN not in failed.text and TOKEN.split("|")[1] not in failed.text
    assert matches(api, "pdq", values[2]) and not matches(api, "pdq", values[3])

    graph.fail_at = None
    asked = len(graph.requests)
    resumed = fetch(api, bank).json()
    assert graph.requests[asked]["start_time"] == "2002"
    assert (resumed["created"], resumed["unchanged"]) == (2, 1), resumed
    assert matches(api, "pdq", values[4])


def test_unconfigured_bad_token_and_roles(
    api: Api, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = int(str(api.create_bank("te")["id"]))
    assert fetch(api, bank, role="matcher").status_code == 403
    assert fetch(api, bank, privacy_group=0).status_code == 422
    other = fetch(api, bank, privacy_group=GROUP + 1)
    assert other.status_code == 502 and "404" in other.text
    monkeypatch.setenv("HASHWALL_THREATEXCHANGE_URL", "graph.example")
    no_url = fetch(api, bank)
    assert no_url.status_code == 409 and "not an http(s) URL" in no_url.text
    monkeypatch.setenv("HASHWALL_THREATEXCHANGE_PRIVACY_GROUP", "not-a-number")
    no_group = fetch(api, bank)
    assert no_group.status_code == 409 and "privacy group" in no_group.text
    monkeypatch.setenv("HASHWALL_THREATEXCHANGE_TOKEN", "not-a-token")
    bad = fetch(api, bank, privacy_group=GROUP)
    assert bad.status_code == 409 and "app_id|secret" in bad.text
    monkeypatch.delenv("HASHWALL_THREATEXCHANGE_TOKEN")
    missing = fetch(api, bank, privacy_group=GROUP)
    assert missing.status_code == 409 and "HASHWALL_THREATEXCHANGE_TOKEN" in missing.text


def test_cli_fetch_shares_the_checkpoint(
    api: Api, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HASHWALL_THREATEXCHANGE_PRIVACY_GROUP")
    graph.updates.append(update("HASH_PDQ", PDQ_A, 3000))
    url = api.settings.resolved_database_url()
    command = ["exchange", "threatexchange", "--bank", "cli-te", "--database-url", url]
    runner = CliRunner()
    first = runner.invoke(cli_app, [*command, "--privacy-group", str(GROUP)])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.splitlines()[-1])
    assert (summary["created"], summary["checkpoint"]) == (1, 3000)
    graph.updates.append(update("HASH_PDQ", PDQ_A, 3001, delete=True))
    second = runner.invoke(cli_app, [*command, "--privacy-group", str(GROUP)])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout.splitlines()[-1])["updated"] == 1
    assert graph.requests[-1]["start_time"] == "3000"
    deadline = time.monotonic() + 5
    while matches(api, "pdq", PDQ_A) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not matches(api, "pdq", PDQ_A)
    unset = runner.invoke(cli_app, command)
    assert unset.exit_code == 2 and "privacy group" in unset.output
