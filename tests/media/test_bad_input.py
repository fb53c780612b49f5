"""Broken, hostile and non-media files: one clear reason each, never a traceback."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from hashwall.hashing import HashOptions, hash_file
from hashwall.media import MediaError

from ..conftest import textured_rgb


def giant_png_header(width: int, height: int) -> bytes:
    """A valid PNG signature + IHDR claiming huge dimensions (a decompression bomb's header)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return b"\x89PNG\r\n\x1a\n" + body + b"\x00\x00\x00\x00IEND\xaeB`\x82"


def jpeg_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "source.jpg"
    Image.fromarray(textured_rgb(3)).save(path, quality=90)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("empty.jpg", lambda tmp: b"", "empty file"),
        ("notes.txt", lambda tmp: b"hello, not a picture\n", "not an image or video"),
        ("truncated.jpg", lambda tmp: jpeg_bytes(tmp)[:600], "truncated"),
        ("garbage.png", lambda tmp: b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image"),
        ("bomb.png", lambda tmp: giant_png_header(100_000, 100_000), "too large"),
        ("fake.mp4", lambda tmp: b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video"),
        ("broken.webm", lambda tmp: b"\x1a\x45\xdf\xa3" + b"\xff" * 64, "video"),
    ],
)
def test_bad_files_raise_media_error_with_reason(
    tmp_path: Path, name: str, make: object, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(make(tmp_path))  # type: ignore[operator]
    with pytest.raises(MediaError) as info:
        hash_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and reason in message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such file"):
        hash_file(tmp_path / "absent.jpg")


def test_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="folder"):
        hash_file(tmp_path)


def test_pixel_limit_is_configurable(photo_path: Path) -> None:
    with pytest.raises(MediaError, match="too large"):
        hash_file(photo_path, HashOptions(max_pixels=1000))
