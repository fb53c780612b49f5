"""Videos and animations inside archives are hashed as vPDQ and matched like ``hashwall match``
does: a re-encoded video and a re-saved animation are found, an unrelated animation is not."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.conftest import textured_rgb
from tests.media.test_video_reshare import panned_frames
from tests.scan.support import Response, labels, scan, warc_bytes, write_bank


def animation(seeds: list[int], loop: int = 0) -> bytes:
    frames = [Image.fromarray(textured_rgb(seed, (240, 180))) for seed in seeds]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=1000, loop=loop)
    return out.getvalue()


def video(crf: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "ultrafast", "g": "20"}
        for index, rgb in enumerate(panned_frames(3.0)):
            if index == 0:
                stream.height, stream.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def test_videos_and_animations_match_by_vpdq(tmp_path: Path) -> None:
    original_video, original_animation = video(18), animation([11, 12, 13])
    bank = write_bank(tmp_path / "bank.jsonl", {"clip": original_video, "loop": original_animation})
    archive = tmp_path / "media.warc.gz"
    archive.write_bytes(
        warc_bytes(
            [
                Response("http://v.example/clip.mp4", video(30), "video/mp4"),
                Response("http://v.example/loop.gif", animation([11, 12, 13], 2), "image/gif"),
                Response("http://v.example/other.gif", animation([21, 22, 23]), "image/gif"),
            ]
        )
    )
    findings, summary = scan(bank, [archive])
    assert labels(findings) == [
        ("http://v.example/clip.mp4", "clip"),
        ("http://v.example/loop.gif", "loop"),
    ]
    assert {(f["signal"], f["media"]) for f in findings} == {("vpdq", "video")}
    assert all(float(f["query_match_percent"]) >= 80 for f in findings)  # type: ignore[arg-type]
    assert summary.media_hashed == 3
