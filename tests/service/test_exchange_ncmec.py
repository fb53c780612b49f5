"""NCMEC hash sharing fetch against a fake NCMEC server on 127.0.0.1.

The fake answers ``GET /hashsharing/v2/entries`` as NCMEC's API does (the XML of pytx's own
test data, basic auth, ``from``/``to`` windows, ``next`` paging URLs with ``start``/``size``/
``max``), so pytx's client and its window-probing fetch run unchanged against it.
"""

from __future__ import annotations

import base64
import calendar
import html
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import urlencode

import pytest

pytest.importorskip("threatexchange", reason="python-threatexchange is not installed")

from typer.testing import CliRunner

from hashwall.cli.app import app as cli_app
from tests.service.conftest import Api
from tests.service.exchange_helpers import Reply, fake_server, matches
from tests.service.test_api_core import PDQ_A, flip

PDQ_C = flip(PDQ_A, 128)
PDQ_E = flip(PDQ_A, 64)
MD5_IMAGE = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
MD5_VIDEO = "B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1B1"
SHA1 = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
USER, PASSWORD = "ncmec-user", "pass,word:with-commas"
PAGE = 2
FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def stamp(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(FORMAT)


def parse_stamp(text: str) -> int:
    return calendar.timegm(time.strptime(text.replace(".000Z", "Z"), FORMAT))


def entry(
    entry_id: str, ts: int, kind: str = "image", member: int = 42, **fingerprints: str
) -> tuple[str, int, str]:
    """One ``<image>``/``<video>`` (or ``deletedImage`` when ``kind`` says so) element."""
    prints = "".join(f"<{name}>{value}</{name}>" for name, value in fingerprints.items())
    body = (
        f'<member id="{member}">Example Member</member><timestamp>{stamp(ts)}</timestamp>'
        f"<id>{entry_id}</id>"
    )
    if not kind.startswith("deleted"):
        body += f"<classification>A1</classification><fingerprints>{prints}</fingerprints>"
    group = "videos" if kind.lower().endswith("video") else "images"
    return group, ts, f"<{kind}>{body}</{kind}>"


@dataclass
class FakeNCMEC:
    entries: list[tuple[str, int, str]] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    #: Answer 403 to the page that starts at this offset.
    fail_at_start: int | None = None
    url: str = ""

    def answer(self, query: dict[str, str]) -> tuple[int, str]:
        start, end = parse_stamp(query["from"]), parse_stamp(query["to"])
        offset = int(query.get("start", "0"))
        if offset == self.fail_at_start:
            return 403, "<error>forbidden</error>"
        # Half-open windows, as pytx's fetch loop assumes: it starts the next window at the
        # previous one's end, so an inclusive end would hand out boundary entries twice.
        found = [e for e in self.entries if start <= e[1] < end]
        page = found[offset : offset + PAGE]
        groups = ""
        for group in ("images", "videos"):
            members = [e for e in page if e[0] == group]
            if members:
                top = stamp(max(e[1] for e in found))
                inner = "".join(e[2] for e in members)
                groups += f'<{group} count="{len(members)}" maxTimestamp="{top}">{inner}</{group}>'
        paging = ""
        if offset + PAGE < len(found):
            params = {"from": query["from"], "to": query["to"], "start": offset + PAGE}
            params.update({"size": PAGE, "max": len(found)})
            paging = (
                f"<paging><next>{html.escape(f'/v2/entries?{urlencode(params)}')}</next></paging>"
            )
        xmlns = "https://hashsharing.ncmec.org/hashsharing/v2"
        body = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        body += f'<queryResult xmlns="{xmlns}">{groups}{paging}</queryResult>'
        return 200, body


@pytest.fixture
def ncmec(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNCMEC]:
    fake = FakeNCMEC()
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def answer(path: str, query: dict[str, str], headers: Message) -> Reply:
        fake.requests.append(query)
        if headers.get("Authorization") != auth:
            status, body = 401, "<error>unauthorized</error>"
        elif path != "/hashsharing/v2/entries":
            status, body = 404, "<error>not found</error>"
        else:
            status, body = fake.answer(query)
        return status, "application/xml", body.encode()

    with fake_server(monkeypatch, answer) as base:
        fake.url = f"{base}/hashsharing"
        monkeypatch.setenv("HASHWALL_NCMEC_CREDENTIALS", f"{USER},{PASSWORD},{fake.url}")
        yield fake


def fetch(api: Api, bank_id: int, role: str = "curator") -> Any:
    return api.call("POST", f"/v1/banks/{bank_id}/exchange/ncmec/fetch", role)


def by_entry_id(api: Api, bank_id: int) -> dict[str, dict[str, Any]]:
    listed = api.call("GET", f"/v1/banks/{bank_id}/entries", "curator").json()["entries"]
    return {e["case_ref"]: e for e in listed}


def after(checkpoint: int) -> None:
    """Wait until pytx's next window (it ends 5 s before now) starts at ``checkpoint``."""
    while int(time.time()) - 5 <= checkpoint:
        time.sleep(0.05)


def test_incremental_fetch_maps_entries_and_deletions(api: Api, ncmec: FakeNCMEC) -> None:
    bank = int(str(api.create_bank("ncmec")["id"]))
    old = int(time.time()) - 7200
    ncmec.entries += [
        entry("image1", old, md5=MD5_IMAGE, sha1=SHA1, pdq=PDQ_A),
        entry("video1", old + 1, kind="video", md5=MD5_VIDEO, sha1=SHA1),
        entry("image2", old + 2, pdq="not-a-pdq-hash", sha1=SHA1),  # nothing usable
        entry("image3", old + 3, member=43, pdq=PDQ_C),
        entry("image9", old + 4, kind="deletedImage"),  # never seen: nothing to stop
    ]
    first = fetch(api, bank)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["created"], body["skipped"]) == (3, 2), body
    assert body["details"]["ignored_signals"] == {"pdq (invalid)": 1, "sha1": 3}
    mark = body["details"]["checkpoint"]
    assert mark >= int(time.time()) - 10 and body["details"]["mid_window"] is False
    stored = by_entry_id(api, bank)
    photo = stored["image1"]
    assert (photo["state"], photo["content_type"], photo["source"]) == ("active", "photo", "ncmec")
    assert {s["signal_type"] for s in photo["signals"]} == {"pdq", "md5"}
    assert photo["metadata"]["ncmec"]["member_id"] == 42
    assert photo["metadata"]["ncmec"]["classification"] == "A1"
    assert stored["video1"]["content_type"] == "video"
    assert matches(api, "pdq", flip(PDQ_A, 3)) and matches(api, "md5", MD5_IMAGE)
    assert matches(api, "md5", MD5_VIDEO.lower()) and matches(api, "pdq", PDQ_C)

    # The second run asks only from the checkpoint: a tombstone deletes, a new entry adds.
    after(mark)
    asked = len(ncmec.requests)
    ncmec.entries += [
        entry("image1", mark, kind="deletedImage"),
        entry("image4", mark, pdq=PDQ_E),
    ]
    second = fetch(api, bank).json()
    assert (second["created"], second["updated"]) == (1, 1), second
    windows = [parse_stamp(r["from"]) for r in ncmec.requests[asked:]]
    assert windows[0] == mark and min(windows) == mark
    assert not matches(api, "pdq", PDQ_A) and not matches(api, "md5", MD5_IMAGE)
    assert matches(api, "pdq", PDQ_E) and matches(api, "pdq", PDQ_C)
    deleted = by_entry_id(api, bank)["image1"]
    assert deleted["state"] == "deleted" and deleted["signals"] == []


def test_failure_keeps_pages_and_resumes_mid_window(api: Api, ncmec: FakeNCMEC) -> None:
    bank = int(str(api.create_bank("ncmec")["id"]))
    old = int(time.time()) - 600
    values = [flip(PDQ_A, bits) for bits in (0, 40, 80, 120, 160)]
    ncmec.entries += [entry(f"img{i}", old, pdq=value) for i, value in enumerate(values)]
    ncmec.fail_at_start = 2 * PAGE
    failed = fetch(api, bank)
    assert failed.status_code == 502, failed.text
    assert failed.json()["error"]["field"] == "ncmec"
    assert "HTTPError" in failed.text and "403" in failed.text
    assert USER not in failed.text and PASSWORD not in failed.text
    kept = by_entry_id(api, bank)
    assert sorted(kept) == ["img0", "img1", "img2", "img3"]
    assert matches(api, "pdq", values[3]) and not matches(api, "pdq", values[4])

    # The next run starts with NCMEC's paging URL for the page that failed.
    ncmec.fail_at_start = None
    asked = len(ncmec.requests)
    resumed = fetch(api, bank).json()
    assert ncmec.requests[asked]["start"] == str(2 * PAGE)
    assert (resumed["created"], resumed["details"]["mid_window"]) == (1, False)
    assert matches(api, "pdq", values[4])


def test_unconfigured_bad_credentials_and_roles(
    api: Api, ncmec: FakeNCMEC, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = int(str(api.create_bank("ncmec")["id"]))
    assert fetch(api, bank, role="matcher").status_code == 403
    assert fetch(api, 999_999).status_code == 404
    monkeypatch.setenv("HASHWALL_NCMEC_CREDENTIALS", f"{USER},wrong,{ncmec.url}")
    refused = fetch(api, bank)
    assert refused.status_code == 502 and "401" in refused.text
    monkeypatch.setenv("HASHWALL_NCMEC_CREDENTIALS", f"{USER}")
    malformed = fetch(api, bank)
    assert malformed.status_code == 409 and "password" in malformed.text
    monkeypatch.delenv("HASHWALL_NCMEC_CREDENTIALS")
    missing = fetch(api, bank)
    assert missing.status_code == 409 and "HASHWALL_NCMEC_CREDENTIALS" in missing.text


def test_cli_fetch_shares_the_checkpoint(api: Api, ncmec: FakeNCMEC) -> None:
    ncmec.entries.append(entry("img", int(time.time()) - 60, pdq=PDQ_A))
    url = api.settings.resolved_database_url()
    command = ["exchange", "ncmec", "--bank", "cli-ncmec", "--database-url", url]
    runner = CliRunner()
    first = runner.invoke(cli_app, command)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.splitlines()[-1])
    assert summary["created"] == 1 and summary["environment"] == ncmec.url
    after(summary["checkpoint"])
    ncmec.entries.append(entry("img", summary["checkpoint"], kind="deletedImage"))
    second = runner.invoke(cli_app, command)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout.splitlines()[-1])["updated"] == 1
    deadline = time.monotonic() + 5
    while matches(api, "pdq", PDQ_A) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not matches(api, "pdq", PDQ_A)
    ncmec_env = "HASHWALL_NCMEC_CREDENTIALS"
    unset = runner.invoke(cli_app, command, env={ncmec_env: ""})
    assert unset.exit_code == 2 and ncmec_env in unset.output


def test_a_retry_in_the_same_second_waits_for_pytx_window_rule() -> None:
    from threatexchange.exchanges.impl.ncmec_api import NCMECCheckpoint, _NCMECPagingInfo

    from hashwall.service.exchange.ncmec import _settle

    end = int(time.time()) - 5  # the window that failed ended "now - 5 s", as pytx sets it
    _settle(NCMECCheckpoint(end - 60, _NCMECPagingInfo("/v2/entries?start=3", end)))
    assert int(time.time()) - 5 > end  # pytx's assertion on resuming holds
