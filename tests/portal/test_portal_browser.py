"""The survivor portal end to end in headless Chromium against a real ``hashwall serve``.

Eligibility answered, pictures picked (Meta's PDQ reference images and a synthetic letterboxed
photo), hashed in the page's Web Worker, the exact payload reviewed and sent; the case number
and PIN read off the page. Then: the hashes stored on the server equal the Python CLI's
``hash_file`` records (0 bits), the network log shows that the only request body was the JSON
of hashes, the status page shows a platform's match, withdrawal through the UI stops matching,
wrong PINs lock the case, and the page still loads offline (service worker). A 390 px wide
screenshot is written to ``tests/portal/artifacts/`` (``docs/portal-mobile.png`` is a copy).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from hashwall.hashing import hash_file
from hashwall.signals.hexcodec import hamming_hex
from tests.conftest import CONFORMANCE, textured_rgb
from tests.server_support import create_keys, serve

PDQ_DATA = CONFORMANCE / "pdq" / "data"
ARTIFACTS = Path(__file__).parent / "artifacts"
SECRET = "portal-e2e-secret-0123456789"
MAX_FAILED_PINS = 3
#: Magic numbers of the media formats a picker can hand over.
MEDIA_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"\x00\x00\x00", b"ftyp", b"BM")


@dataclass
class Server:
    url: str
    admin: dict[str, str]
    matcher: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("fastapi", reason="the server extra is not installed")
    data_dir = tmp_path_factory.mktemp("portal-serve")
    admin, matcher = create_keys(
        data_dir, SECRET, ("admin", "operator"), ("matcher", "examplegram")
    )
    with serve(data_dir, SECRET, HASHWALL_PORTAL_MAX_FAILED_PINS=str(MAX_FAILED_PINS)) as url:
        yield Server(url, {"X-API-Key": admin}, {"X-API-Key": matcher})


def reference_images(count: int = 6) -> list[Path]:
    """The first reference image of each folder of Meta's PDQ data, up to ``count``."""
    table = CONFORMANCE / "expected" / "pdq-reference.csv"
    if not table.is_file() or not PDQ_DATA.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE} (needs ../shared beside it)")
    with table.open(newline="") as handle:
        paths = [CONFORMANCE / row[2] for row in csv.reader(handle) if row]
    by_folder: dict[Path, list[Path]] = {}
    for path in paths:
        by_folder.setdefault(path.parent, []).append(path)
    chosen = [group[0] for group in by_folder.values()]
    chosen += [p for p in paths if p not in chosen]
    return chosen[:count]


def synthetic_photo(folder: Path) -> Path:
    """A letterboxed synthetic photo, so a borderless hash is sent and stored too."""
    content = textured_rgb(21, (480, 320))
    canvas = np.zeros((320 + 2 * 120, 480, 3), dtype=np.uint8)
    canvas[120:440] = content
    path = folder / "synthetic-letterbox.png"
    Image.fromarray(canvas).save(path)
    return path


def stored_entries(server: Server) -> list[dict[str, Any]]:
    banks = httpx.get(f"{server.url}/v1/banks", headers=server.admin).json()
    (bank,) = [b for b in banks if b["name"] == "portal"]
    listed = httpx.get(
        f"{server.url}/v1/banks/{bank['id']}/entries", headers=server.admin, params={"limit": 100}
    )
    return listed.json()["entries"]  # type: ignore[no-any-return]


def match(server: Server, record: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/v1/match/hashes",
        headers=server.matcher,
        json={"queries": [{"record": record}]},
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]  # type: ignore[no-any-return]


def test_portal_end_to_end(browser: Any, server: Server, tmp_path: Path) -> None:
    paths = [*reference_images(), synthetic_photo(tmp_path)]
    expected = {path.name: hash_file(path).as_json() for path in paths}
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True
    )
    requests: list[tuple[str, str, bytes]] = []
    context.on("request", lambda r: requests.append((r.method, r.url, r.post_data_buffer or b"")))
    try:
        page = context.new_page()
        page.goto(f"{server.url}/portal")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        assert page.is_hidden("#pick")
        # Eligibility: "no" to the age question points to Take It Down and hides the picker.
        page.check("input[name=adult][value=no]")
        assert page.is_visible("#under18")
        link = page.get_attribute("#under18 a", "href")
        assert link == "https://takeitdown.ncmec.org/"
        for name in ("adult", "depicted", "intimate"):
            page.check(f"input[name={name}][value=yes]")
        assert page.is_hidden("#under18") and page.is_visible("#pick")

        page.set_input_files("#files", [str(p) for p in paths])
        page.wait_for_selector(f"#items li:nth-child({len(paths)})", timeout=300_000)
        page.wait_for_selector("body[data-state=ready]", state="attached")
        assert page.locator("#items img").count() == len(paths)
        for src in page.locator("#items img").evaluate_all("els => els.map(e => e.src)"):
            assert src.startswith("blob:"), src  # local previews only
        assert page.is_disabled("#send")  # no consent yet
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "portal-mobile.png"), full_page=True)
        page.check("#consent")
        shown = page.text_content("#payload") or ""
        payload = json.loads(shown)
        assert payload["consent"] is True and payload["include_names"] is False
        assert all("path" not in record for record in payload["records"])
        for record, path in zip(payload["records"], paths, strict=True):
            reference = {k: v for k, v in expected[path.name].items() if k != "path"}
            assert record == reference, path.name
        page.click("#send")
        page.wait_for_selector("body[data-state=done]", state="attached", timeout=30_000)
        number = (page.text_content("#case-number") or "").strip()
        pin = (page.text_content("#case-pin") or "").strip()
        assert number.startswith("HW-") and len(pin) == 9
        page.screenshot(path=str(ARTIFACTS / "portal-mobile-done.png"), full_page=True)

        # Only the JSON shown went out, as the one request with a body.
        posts = [(m, u, b) for m, u, b in requests if b or m != "GET"]
        assert [(m, u) for m, u, _ in posts] == [("POST", f"{server.url}/v1/portal/cases")]
        body = posts[0][2]
        assert body.decode() == shown
        assert body.isascii() and not any(magic in body for magic in MEDIA_MAGIC)
        assert all(p.name not in body.decode() for p in paths)  # no file names either
        local = (server.url, f"blob:{server.url}/")  # blob: the local previews
        assert all(u.startswith(local) for _, u, _ in requests), [u for _, u, _ in requests]
        assert max(len(b) for _, _, b in requests) < 64 * 1024

        # Stored on the server: the Python CLI's hashes, bit for bit.
        entries = stored_entries(server)
        assert len(entries) == len(paths)
        for entry, path in zip(entries, paths, strict=True):
            want = expected[path.name]["signals"]
            got = {(s["signal_type"], s["variant"]): s["value"] for s in entry["signals"]}
            assert hamming_hex(got[("pdq", "original")], want["pdq"]["hash"]) == 0, path.name
            if "borderless" in want["pdq"]:
                assert got[("pdq", "borderless")] == want["pdq"]["borderless"]["hash"]
            assert (got[("md5", "original")], got[("sha256", "original")]) == (
                want["md5"],
                want["sha256"],
            )
            assert (entry["case_ref"], entry["source"], entry["label"]) == (number, "portal", "")
        assert "borderless" in expected[paths[-1].name]["signals"]["pdq"]

        # A platform finds a copy; the status page shows it.
        found = match(server, expected[paths[0].name])
        assert found["needs_review"]
        found_count = sum(len(bank["matches"]) for bank in found["banks"])
        page.goto(f"{server.url}/portal/status")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        page.fill("#case-number", number)
        page.fill("#pin", pin)
        page.click("#check")
        page.wait_for_selector("body[data-state=active]", state="attached")
        assert page.text_content("#count-total") == str(len(paths))
        assert page.text_content("#count-matches") == str(found_count)
        row = page.locator("#platforms tbody tr").first.inner_text()
        assert "platform 1" in row and "examplegram" not in row and "portal" in row
        page.screenshot(path=str(ARTIFACTS / "portal-status-mobile.png"), full_page=True)

        # Withdraw through the UI: matching stops.
        page.click("#withdraw")
        page.click("#withdraw-confirm")
        page.wait_for_selector("body[data-state=withdrawn]", state="attached")
        assert page.text_content("#count-withdrawn") == str(len(paths))
        assert page.text_content("#count-active") == "0"
        for path in paths:
            assert match(server, expected[path.name])["banks"] == [], path.name

        # Wrong PINs: refused, then the case number is locked (even for the right PIN).
        wrong = ("2" if pin[0] != "2" else "3") + pin[1:]
        page.fill("#pin", wrong)
        for _ in range(MAX_FAILED_PINS):
            page.click("#check")
            page.wait_for_selector("body[data-state=error-403]", state="attached")
            assert "not right" in (page.text_content("#error") or "")
        page.fill("#pin", pin)
        page.click("#check")
        page.wait_for_selector("body[data-state=error-429]", state="attached")
        assert "locked" in (page.text_content("#error") or "")
        assert page.is_hidden("#result")
        assert all(pin not in u and pin.replace("-", "") not in u for _, u, _ in requests)

        # Offline after the first load: the service worker serves page, styles and scripts.
        page.goto(f"{server.url}/portal")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        context.set_offline(True)
        page.goto(f"{server.url}/portal")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        page.check("input[name=adult][value=yes]")
        page.check("input[name=depicted][value=yes]")
        page.check("input[name=intimate][value=yes]")
        page.set_input_files("#files", [str(paths[-1])])
        page.wait_for_selector("#items li", timeout=60_000)
        assert page.text_content("#payload")
        context.set_offline(False)
    finally:
        context.close()


def test_portal_video_is_fingerprinted_on_the_device_and_matches_reencoded_copies(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    """A survivor's video: vPDQ frames made in the page, only JSON sent; a platform's upload of
    the same file and of a re-encoded copy matches the portal's entry through the match API."""
    from tests.web.test_browser_video import panning_frames, write_video

    frames = panning_frames(6, seed=11)
    original = write_video(tmp_path / "mine.webm", frames, "libvpx-vp9", crf="30", b="0")
    reencoded = write_video(tmp_path / "reupload.mp4", frames, "libx264", crf="30")
    context = browser.new_context()
    requests: list[tuple[str, str, bytes]] = []
    context.on("request", lambda r: requests.append((r.method, r.url, r.post_data_buffer or b"")))
    try:
        page = context.new_page()
        page.goto(f"{server.url}/portal")
        page.wait_for_selector("body[data-state=ready]", state="attached")
        for name in ("adult", "depicted", "intimate"):
            page.check(f"input[name={name}][value=yes]")
        page.set_input_files("#files", [str(original)])
        page.wait_for_selector("#items li", timeout=120_000)
        page.wait_for_selector("body[data-state=ready]", state="attached")
        assert "fingerprint ready" in (page.text_content("#items li") or "")
        page.check("#consent")
        payload = json.loads(page.text_content("#payload") or "")
        [record] = payload["records"]
        assert record["content_type"] == "video" and len(record["signals"]["vpdq"]) == 6
        page.click("#send")
        page.wait_for_selector("body[data-state=done]", state="attached", timeout=30_000)
    finally:
        context.close()
    posts = [(m, u, b) for m, u, b in requests if b or m != "GET"]
    assert [(m, u) for m, u, _ in posts] == [("POST", f"{server.url}/v1/portal/cases")]
    body = posts[0][2]
    assert body.isascii() and not any(magic in body for magic in MEDIA_MAGIC)
    assert not any(original.read_bytes()[64:96] in b for _, _, b in requests)
    # Portal entries lead a platform to human review (docs/security.md), not to "matched".
    assert match(server, hash_file(original).as_json())["needs_review"]  # the same file
    found = match(server, hash_file(reencoded).as_json())  # a re-encode: only vPDQ can tell
    hits = [m for bank in found["banks"] for m in bank["matches"] if m["signal"] == "vpdq"]
    assert found["needs_review"] and hits[0]["query_match_percent"] >= 80, found
