"""Hashing in the browser (src/hashwall/web/static/hashwall-hash.js) equals the Python CLI.

Headless Chromium (Debian's ``chromium`` package) loads a tiny page from a local ``http.server``;
the conformance images go in through ``<input type=file>`` and are hashed in the module Web
Worker. Every record must equal ``hashwall.hashing.hash_file(path)`` with default options
(exact mode, EXIF applied, borders removed, dihedral variants): PDQ hash, quality, the eight
dihedral variants, ``borderless`` with its ``crop``, MD5, SHA-256 and size.

Tolerance: 0 bits, and 0 is what is measured: all 39 of Meta's reference images and the 10 other
conformance images (CMYK JPEG, 16-bit/float/LAB/HSV WebP, transparent PNG and WebP) give records
identical to the CLI's in Chromium 156 (Debian bookworm). The JavaScript PDQ repeats the C++
reference's float32 operations in the same order, so on identical pixels it is bit-identical
(also checked in node on pixels decoded by Pillow). What could differ is decoding: Chromium and
Pillow both use libjpeg-turbo (islow IDCT, fancy upsampling), libpng and libwebp; the page turns
colour management off (``colorSpaceConversion: "none"``, as Pillow ignores ICC profiles) and
composites transparency over white while drawing, which gives media/image.py's rounding exactly.
If a future Chromium decodes some file differently, PDQ drifts by a few bits (Meta allows 10
between implementations; matching is at 31): the failure message lists the bits per variant.

The page is served with a Content-Security-Policy that forbids any connection (``connect-src
'none'``), and the test records every request the browser makes: only the page and the two
scripts are fetched, all with GET and no body, so no image byte leaves the browser.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.server
import io
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hashwall.hashing import hash_file
from hashwall.signals.hexcodec import hamming_hex
from tests.conftest import CONFORMANCE, REPO_ROOT, textured_rgb

STATIC = REPO_ROOT / "src" / "hashwall" / "web" / "static"
PDQ_DATA = CONFORMANCE / "pdq" / "data"
#: Forbid every kind of connection: hashing must work with the network shut.
CSP = (
    "default-src 'none'; script-src 'self'; worker-src 'self'; connect-src 'none'; "
    "img-src 'none'; media-src blob:; style-src 'none'; form-action 'none'; base-uri 'none'"
)

TEST_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hashwall browser hashing test</title>
<script type="module" src="/test-page.js"></script></head>
<body><input type="file" id="files" multiple></body></html>
"""
TEST_SCRIPT = b"""import { hashFilesInWorker } from "/static/hashwall-hash.js";
const input = document.getElementById("files");
input.addEventListener("change", async () => {
  document.body.dataset.state = "hashing";
  const started = performance.now();
  // ?maxSeconds=N lowers the video length cap, so the cap can be tested on a short clip.
  const maxSeconds = Number(new URLSearchParams(location.search).get("maxSeconds") || 1800);
  const options = { limits: { maxSeconds, maxBytes: 1024 * 2 ** 20 } };
  const results = await hashFilesInWorker(input.files, { options });
  window.hashResults = {
    totalMs: performance.now() - started,
    results: results.map(({ index, record, error, ms }) => ({ index, record, error, ms })),
  };
  document.body.dataset.state = "done";
});
document.body.dataset.state = "ready";
"""
PAGES = {"/": (TEST_PAGE, "text/html"), "/test-page.js": (TEST_SCRIPT, "text/javascript")}
SCRIPTS = ("hashwall-hash.js", "hashwall-hash-worker.js")


@dataclass
class ServedRequest:
    method: str
    path: str
    body_length: int


@dataclass
class PageServer:
    url: str
    requests: list[ServedRequest] = field(default_factory=list)


def _handler(log: list[ServedRequest]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            log.append(ServedRequest(self.command, self.path, length))

        def do_GET(self) -> None:
            self._record()
            body, kind = PAGES.get(self.path.split("?")[0], (b"", ""))
            name = self.path.removeprefix("/static/")
            if not kind and self.path.startswith("/static/") and name in SCRIPTS:
                body, kind = (STATIC / name).read_bytes(), "text/javascript"
            if not kind:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self._record()
            self.send_error(405)

        do_PUT = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean; requests are in `log`

    return Handler


@pytest.fixture(scope="module")
def page_server() -> Iterator[PageServer]:
    log: list[ServedRequest] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PageServer(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class BrowserRun:
    results: list[dict[str, Any]]
    total_ms: float
    #: (method, url, body bytes) of every request the page and its worker made.
    requests: list[tuple[str, str, bytes]]


def hash_in_browser(
    browser: Any, server: PageServer, paths: list[Path], query: str = ""
) -> BrowserRun:
    """Pick ``paths`` in the page's file input and collect the records the worker makes."""
    context = browser.new_context()
    requests: list[tuple[str, str, bytes]] = []
    context.on("request", lambda r: requests.append((r.method, r.url, r.post_data_buffer or b"")))
    try:
        page = context.new_page()
        page.goto(server.url + "/" + query)
        # Selectors, not wait_for_function: the page's CSP forbids the eval that one needs.
        page.wait_for_selector("body[data-state=ready]", state="attached")
        page.set_input_files("#files", [str(path) for path in paths])
        page.wait_for_selector("body[data-state=done]", state="attached", timeout=300_000)
        outcome = page.evaluate("window.hashResults")
    finally:
        context.close()
    return BrowserRun(outcome["results"], outcome["totalMs"], requests)


def python_record(path: Path) -> dict[str, Any]:
    record: dict[str, Any] = hash_file(path).as_json()
    record["path"] = path.name
    return record


def pdq_differences(browser_pdq: dict[str, Any], python_pdq: dict[str, Any]) -> list[int]:
    """Bits differing in the hash and each dihedral variant (borderless ones appended)."""
    distances = [hamming_hex(browser_pdq["hash"], python_pdq["hash"])]
    distances += [
        hamming_hex(ours, theirs)
        for ours, theirs in zip(browser_pdq["dihedral"], python_pdq["dihedral"], strict=True)
    ]
    if "borderless" in browser_pdq and "borderless" in python_pdq:
        distances += pdq_differences(browser_pdq["borderless"], python_pdq["borderless"])
    return distances


def reference_images() -> list[Path]:
    table = CONFORMANCE / "expected" / "pdq-reference.csv"
    with table.open(newline="") as handle:
        return [CONFORMANCE / row[2] for row in csv.reader(handle) if row]


@pytest.fixture(scope="module")
def reference_run(browser: Any, page_server: PageServer) -> tuple[list[Path], BrowserRun]:
    if not (CONFORMANCE / "expected" / "pdq-reference.csv").is_file() or not PDQ_DATA.is_dir():
        pytest.skip(
            f"conformance data not found at {CONFORMANCE} (needs ../shared beside the repo)"
        )
    paths = reference_images()
    return paths, hash_in_browser(browser, page_server, paths)


@pytest.mark.conformance
def test_reference_images_hash_identically_in_the_browser(
    reference_run: tuple[list[Path], BrowserRun],
) -> None:
    paths, run = reference_run
    assert len(paths) == 39 and len(run.results) == 39
    mismatches = []
    for path, result in zip(paths, run.results, strict=True):
        assert result.get("error") is None, f"{path.name}: {result['error']}"
        ours, theirs = result["record"], python_record(path)
        if ours != theirs:
            bits = pdq_differences(ours["signals"]["pdq"], theirs["signals"]["pdq"])
            mismatches.append(f"{path.relative_to(PDQ_DATA)}: bits {bits}")
            mismatches.append(f"  browser {json.dumps(ours)}\n  python  {json.dumps(theirs)}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.conformance
def test_no_image_bytes_leave_the_browser(
    reference_run: tuple[list[Path], BrowserRun], page_server: PageServer
) -> None:
    _, run = reference_run
    allowed = {page_server.url + path for path in ("/", "/test-page.js")}
    allowed |= {f"{page_server.url}/static/{name}" for name in SCRIPTS}
    assert run.requests, "the request log is empty: the listener did not record anything"
    for method, url, body in run.requests:
        assert (method, body) == ("GET", b""), f"{method} {url} carried {len(body)} bytes"
        assert url in allowed or url == page_server.url + "/favicon.ico", url
    assert all(r.method == "GET" and r.body_length == 0 for r in page_server.requests)


@pytest.mark.conformance
def test_other_conformance_images_hash_identically(browser: Any, page_server: PageServer) -> None:
    """Images Meta's reference cannot decode (CMYK, LAB, 16-bit, float, alpha): identical too."""
    if not PDQ_DATA.is_dir():
        pytest.skip(f"conformance data not found at {PDQ_DATA}")
    listed = set(reference_images())
    suffixes = {".jpg", ".png", ".webp"}
    paths = sorted(p for p in PDQ_DATA.rglob("*") if p.suffix in suffixes and p not in listed)
    assert len(paths) >= 10
    run = hash_in_browser(browser, page_server, paths)
    mismatches = []
    for path, result in zip(paths, run.results, strict=True):
        assert result.get("error") is None, f"{path.name}: {result['error']}"
        ours, theirs = result["record"], python_record(path)
        if ours != theirs:
            bits = pdq_differences(ours["signals"]["pdq"], theirs["signals"]["pdq"])
            mismatches.append(f"{path.relative_to(PDQ_DATA)}: bits {bits}")
    assert not mismatches, "\n".join(mismatches)


def _letterboxed(
    content: np.ndarray, bars: tuple[int, int, int, int], colour: tuple[int, int, int] = (0, 0, 0)
) -> np.ndarray:
    left, top, right, bottom = bars
    height, width = content.shape[:2]
    canvas = np.empty((height + top + bottom, width + left + right, 3), dtype=np.uint8)
    canvas[:] = colour
    canvas[top : top + height, left : left + width] = content
    return canvas


def test_letterboxed_photo_gets_the_same_borderless_hash(
    browser: Any, page_server: PageServer, tmp_path: Path
) -> None:
    """Bars found in the browser crop the same pixels and give the same borderless PDQ."""
    content = textured_rgb(3, (640, 360))
    paths = []
    for name, bars in {
        "letterbox.png": (0, 180, 0, 180),
        "pillarbox.png": (300, 0, 300, 0),
    }.items():
        paths.append(tmp_path / name)
        Image.fromarray(_letterboxed(content, bars)).save(paths[-1])
    paths.append(tmp_path / "letterbox.jpg")
    Image.fromarray(_letterboxed(content, (0, 200, 0, 200))).save(paths[-1], quality=90)
    paths.append(tmp_path / "red-letterbox.png")
    Image.fromarray(_letterboxed(content, (0, 150, 0, 150), (200, 30, 30))).save(paths[-1])
    run = hash_in_browser(browser, page_server, paths)
    for path, result in zip(paths, run.results, strict=True):
        ours, theirs = result["record"], python_record(path)
        assert "borderless" in theirs["signals"]["pdq"], path.name
        assert ours == theirs, pdq_differences(ours["signals"]["pdq"], theirs["signals"]["pdq"])


def test_transparent_png_is_composited_over_white(
    browser: Any, page_server: PageServer, tmp_path: Path
) -> None:
    rgba = np.dstack([textured_rgb(4, (300, 200)), np.tile(np.arange(300) % 256, (200, 1))])
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(path)
    (result,) = hash_in_browser(browser, page_server, [path]).results
    ours, theirs = result["record"], python_record(path)
    # The alpha ramp also makes whitish bars at both sides: the crop must agree to the pixel.
    assert "borderless" in theirs["signals"]["pdq"]
    assert ours == theirs, pdq_differences(ours["signals"]["pdq"], theirs["signals"]["pdq"])


def test_animations_get_digests_and_vpdq_frames(
    browser: Any, page_server: PageServer, tmp_path: Path
) -> None:
    """Animated GIF/WebP are videos: digests and one vPDQ frame per sampled frame (the frame
    tolerance is tested in test_browser_video.py); a still GIF stays a photo."""
    frames = [Image.fromarray(textured_rgb(seed, (64, 48))) for seed in (5, 6)]
    animation = tmp_path / "animated.gif"
    frames[0].save(animation, save_all=True, append_images=frames[1:], duration=100)
    animated_webp = tmp_path / "animated.webp"
    frames[0].save(animated_webp, save_all=True, append_images=frames[1:], duration=100)
    still = tmp_path / "still.gif"
    frames[0].save(still)
    run = hash_in_browser(browser, page_server, [animation, animated_webp, still])
    for path, result in zip([animation, animated_webp], run.results, strict=False):
        data = path.read_bytes()
        record = result["record"]
        assert record["content_type"] == "video" and record["path"] == path.name
        assert record["signals"]["md5"] == hashlib.md5(data).hexdigest()
        assert record["signals"]["sha256"] == hashlib.sha256(data).hexdigest()
        theirs = python_record(path)
        assert theirs["content_type"] == "video"
        stamps = [frame["timestamp"] for frame in record["signals"]["vpdq"]]
        assert stamps == [frame["timestamp"] for frame in theirs["signals"]["vpdq"]]
    assert run.results[2]["record"] == python_record(still)


def test_unreadable_files_are_reported_not_hashed(
    browser: Any, page_server: PageServer, tmp_path: Path
) -> None:
    empty, text, broken = tmp_path / "empty.jpg", tmp_path / "notes.jpg", tmp_path / "cut.png"
    empty.write_bytes(b"")
    text.write_text("not a picture")
    buffer = io.BytesIO()
    Image.fromarray(textured_rgb(7)).save(buffer, "PNG")
    broken.write_bytes(buffer.getvalue()[:200])
    results = hash_in_browser(browser, page_server, [empty, text, broken]).results
    assert [r.get("record") for r in results] == [None, None, None]
    assert "empty file" in results[0]["error"]
    assert "not an image or video" in results[1]["error"]
    assert "not a readable image" in results[2]["error"]


def test_javascript_unit_tests() -> None:
    """MD5 against RFC 1321 and node's own MD5 (tests/web/js, run with `node --test`)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    with contextlib.suppress(subprocess.TimeoutExpired):
        completed = subprocess.run(
            [node, "--test", str(Path(__file__).parent / "js")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return
    pytest.fail("node --test did not finish within 120 s")
