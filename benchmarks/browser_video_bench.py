"""How fast the survivor portal fingerprints a video in the browser (vPDQ, one frame a second).

The portal decodes videos with the page's own <video> element (seek, draw into a canvas, PDQ in
JavaScript); the alternative, WebCodecs' VideoDecoder, would need our own MP4/WebM demuxer in
the page, so the seek-and-draw path was chosen and this measures it. For each clip (made here
with PyAV: a textured picture panning, H.264 and VP9) it prints the browser's wall time, the
time per sampled frame, how many times faster than real time that is, and the CLI's time for
the same file in this process as the baseline. Needs Chromium (/usr/bin/chromium) and
Playwright, like the browser tests.

    python benchmarks/browser_video_bench.py [--seconds 30] [--height 720]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.web.test_browser_hashing import _handler, hash_in_browser  # noqa: E402
from tests.web.test_browser_video import write_clip  # noqa: E402

from hashwall.hashing import hash_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument(
        "--gops", default="250,50", help="keyframe intervals (frames) to compare; phones: 30-60"
    )
    args = parser.parse_args()
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    log: list = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from tests.web.test_browser_hashing import PageServer

    page_server = PageServer(f"http://127.0.0.1:{server.server_address[1]}", log)
    size = (args.height * 16 // 9 // 2 * 2, args.height)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        print(f"clip: {args.seconds:.0f} s, {size[0]}x{size[1]}, 25 fps; vPDQ one frame a second")
        print(
            f"{'codec':10} {'GOP':>4} {'browser s':>10} {'ms/frame':>9} {'x real time':>12} "
            f"{'CLI s':>7}"
        )
        runs = [
            (codec, name, int(gop))
            for gop in args.gops.split(",")
            for codec, name in (("libx264", "clip.mp4"), ("libvpx-vp9", "clip.webm"))
        ]
        for codec, name, gop in runs:
            path = write_clip(Path(folder) / f"{gop}-{name}", args.seconds, size, codec, gop)
            started = time.perf_counter()
            frames = len(hash_file(path).vpdq)
            cli = time.perf_counter() - started
            run = hash_in_browser(browser, page_server, [path])
            record = run.results[0].get("record")
            if record is None:
                print(f"{codec:10} {gop:4} failed: {run.results[0].get('error')}")
                continue
            seconds = run.total_ms / 1000
            ms_per_frame = run.total_ms / max(1, len(record["signals"]["vpdq"]))
            print(
                f"{codec:10} {gop:4} {seconds:10.2f} {ms_per_frame:9.1f} "
                f"{args.seconds / seconds:12.1f} {cli:7.2f}  ({frames} CLI frames)"
            )
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
