"""Re-shared video edits through ``hashwall hash`` + ``hashwall match``: a 10 s excerpt of a 60 s
video, a left-right mirrored copy, a letterboxed copy; and bad videos in a batch.

Videos are synthetic (a smooth generated texture, panned and zoomed), encoded here with PyAV.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import av
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from typer.testing import CliRunner

from hashwall.cli.app import app

from ..conftest import textured_rgb

FPS = 10
WIDTH, HEIGHT = 256, 192
runner = CliRunner()


def write_video(path: Path, frames: Iterable[NDArray[np.uint8]], fps: int = FPS) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast", "g": str(fps * 2)}
        for index, rgb in enumerate(frames):
            if index == 0:
                stream.height, stream.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def panned_frames(seconds: float, seed: int = 11) -> list[NDArray[np.uint8]]:
    """A slow pan with a gentle zoom across a wide synthetic texture."""
    count = round(seconds * FPS)
    texture = textured_rgb(seed, (WIDTH * 2 + count, HEIGHT * 2))
    frames = []
    for index in range(count):
        zoom = 1.0 + 0.1 * np.sin(index / 60.0)
        w, h = int(WIDTH * 1.4 * zoom), int(HEIGHT * 1.4 * zoom)
        left, top = index // 2, (HEIGHT * 2 - h) // 2
        crop = Image.fromarray(texture[top : top + h, left : left + w])
        frames.append(np.asarray(crop.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)))
    return frames


@pytest.fixture(scope="module")
def sixty_seconds() -> list[NDArray[np.uint8]]:
    return panned_frames(60.0)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args])
    return result.exit_code, result.stdout, result.stderr


def hash_list(tmp_path: Path, video: Path, *mode: str) -> Path:
    listed = tmp_path / "known.jsonl"
    code, _, err = run("hash", str(video), "-o", str(listed), "--no-progress", *mode)
    assert code == 0, err
    return listed


def matches(listed: Path, video: Path, *mode: str) -> list[dict[str, object]]:
    code, out, err = run("match", "--against", str(listed), str(video), "--no-progress", *mode)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("mode", [["--mode", "exact"], ["--mode", "fast"]])
def test_ten_second_excerpt_of_a_minute_matches(
    tmp_path: Path, sixty_seconds: list[NDArray[np.uint8]], mode: list[str]
) -> None:
    original = write_video(tmp_path / "original.mp4", sixty_seconds)
    # Starts 0.3 s off the original's 1 s sampling grid, as a real cut would.
    excerpt = write_video(tmp_path / "excerpt.mp4", sixty_seconds[253:353])
    found = matches(hash_list(tmp_path, original, *mode), excerpt, *mode)
    assert len(found) == 1, found
    assert found[0]["signal"] == "vpdq"
    assert float(str(found[0]["query_match_percent"])) >= 80.0


@pytest.mark.parametrize("mode", [["--mode", "exact"], ["--mode", "fast"]])
def test_mirrored_copy_matches(
    tmp_path: Path, sixty_seconds: list[NDArray[np.uint8]], mode: list[str]
) -> None:
    clip = sixty_seconds[:150]
    original = write_video(tmp_path / "original.mp4", clip)
    mirrored = write_video(
        tmp_path / "mirrored.mp4", [np.ascontiguousarray(f[:, ::-1]) for f in clip]
    )
    listed = hash_list(tmp_path, original, *mode)
    found = matches(listed, mirrored, *mode)
    assert len(found) == 1, found
    assert float(str(found[0]["query_match_percent"])) >= 80.0


def test_unrelated_video_does_not_match(
    tmp_path: Path, sixty_seconds: list[NDArray[np.uint8]]
) -> None:
    original = write_video(tmp_path / "original.mp4", sixty_seconds[:150])
    other = write_video(tmp_path / "other.mp4", panned_frames(15.0, seed=99))
    assert matches(hash_list(tmp_path, original), other) == []


def letterbox(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    bars = np.zeros((HEIGHT // 4, WIDTH, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([bars, rgb, bars], axis=0))


def pillarbox(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    bars = np.zeros((HEIGHT, WIDTH // 4, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([bars, rgb, bars], axis=1))


@pytest.mark.parametrize("edit", [letterbox, pillarbox])
@pytest.mark.parametrize("mode", [["--mode", "exact"], ["--mode", "fast"]])
def test_bordered_copy_matches(
    tmp_path: Path,
    sixty_seconds: list[NDArray[np.uint8]],
    edit: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
    mode: list[str],
) -> None:
    clip = sixty_seconds[:100]
    original = write_video(tmp_path / "original.mp4", clip)
    bordered = write_video(tmp_path / "bordered.mp4", [edit(f) for f in clip])
    found = matches(hash_list(tmp_path, original, *mode), bordered, *mode)
    assert len(found) == 1, found
    assert float(str(found[0]["query_match_percent"])) >= 80.0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_bad_videos_are_reported_and_the_batch_goes_on(
    tmp_path: Path, sixty_seconds: list[NDArray[np.uint8]], mode: str
) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    good = write_video(folder / "a-good.mp4", sixty_seconds[:30])
    long = write_video(folder / "b-long.mp4", sixty_seconds[:120])
    (folder / "c-empty.mp4").write_bytes(b"")
    (folder / "d-truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    corrupt = bytearray(good.read_bytes())
    corrupt[64:] = bytes(len(corrupt) - 64)
    (folder / "e-corrupt.mp4").write_bytes(bytes(corrupt))
    code, out, err = run(
        "hash", str(folder), "--no-progress", "--mode", mode, "--max-video-seconds", "5", "-j", "1"
    )
    assert code == 1
    hashed = [json.loads(line)["path"] for line in out.splitlines() if line.strip()]
    assert hashed == [str(good)]
    assert f"{long}: video is 12 s long, over the 5 s limit" in err
    for name in ("c-empty.mp4", "d-truncated.mp4", "e-corrupt.mp4"):
        line = next(line for line in err.splitlines() if name in line)
        assert line.startswith("error:"), line
