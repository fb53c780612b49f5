"""Every Pillow mode and common format hashes to (nearly) the same PDQ as the RGB original."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashwall.hashing import hash_file
from hashwall.media.image import to_rgb_array
from hashwall.media.sniff import ContentKind
from hashwall.signals.hexcodec import hamming_hex
from hashwall.signals.pdq import hash_rgb

from ..conftest import textured_rgb

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Image.Image, str]:
    image = Image.fromarray(textured_rgb(11, (400, 300)))
    path = tmp_path_factory.mktemp("orig") / "original.png"
    image.save(path)
    record = hash_file(path)
    assert record.pdq is not None and record.pdq.quality >= 80
    return image, record.pdq.hash


@pytest.mark.parametrize("mode", MODES)
def test_every_pillow_mode(tmp_path: Path, original: tuple[Image.Image, str], mode: str) -> None:
    image, expected = original
    converted = image.convert(mode)
    suffix = ".tiff" if mode in {"I", "F", "LAB", "HSV", "YCbCr", "CMYK", "PA"} else ".png"
    path = tmp_path / f"image-{mode}{suffix}"
    limit = 60 if mode == "1" else 31  # 1-bit dithering changes a lot, but must still hash
    in_memory = hash_rgb(to_rgb_array(converted), dihedral=False)
    assert hamming_hex(in_memory.hash, expected) <= limit, mode
    try:
        converted.save(path)
    except (OSError, ValueError, KeyError):
        return  # no file format stores this mode (HSV): the in-memory path is what can occur
    record = hash_file(path)
    assert record.pdq is not None
    assert hamming_hex(record.pdq.hash, expected) <= limit, mode


def _saved(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "GIF", "TIFF", "BMP", "PNG"])
def test_formats(tmp_path: Path, original: tuple[Image.Image, str], fmt: str) -> None:
    image, expected = original
    path = tmp_path / f"image.{fmt.lower()}"
    if fmt == "GIF":
        # Quantising a smooth synthetic picture to 256 colours bands it (PDQ moves ~56 bits);
        # a grey picture fits the palette losslessly and tests the GIF decode path itself.
        image = image.convert("L")
        expected = hash_file(_saved(image, tmp_path / "grey.png")).pdq.hash  # type: ignore[union-attr]
    image.save(path, format=fmt)
    record = hash_file(path)
    assert record.content_type is ContentKind.PHOTO
    assert record.pdq is not None and hamming_hex(record.pdq.hash, expected) <= 31


def test_heic_when_wheel_available(tmp_path: Path, original: tuple[Image.Image, str]) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    image, expected = original
    path = tmp_path / "image.heic"
    try:
        image.save(path, format="HEIF", quality=90)
    except (OSError, KeyError, ValueError) as error:
        pytest.skip(f"this pillow-heif build cannot encode HEIC: {error}")
    record = hash_file(path)
    assert record.pdq is not None and hamming_hex(record.pdq.hash, expected) <= 31


def test_exif_orientation_is_applied(tmp_path: Path, original: tuple[Image.Image, str]) -> None:
    image, expected = original
    stored = image.transpose(Image.Transpose.ROTATE_90)  # pixels stored rotated ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... and EXIF says "turn it 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    record = hash_file(path)
    assert record.pdq is not None and hamming_hex(record.pdq.hash, expected) <= 16


def test_sixteen_bit_grey_is_not_clipped(tmp_path: Path) -> None:
    grey = (textured_rgb(5)[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    record = hash_file(path)
    assert record.pdq is not None and record.pdq.quality >= 50


def test_animated_gif_is_a_video(tmp_path: Path) -> None:
    frames = [Image.fromarray(textured_rgb(seed)) for seed in range(4)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=500, loop=0)
    record = hash_file(path)
    assert record.content_type is ContentKind.VIDEO
    assert [f.frame for f in record.vpdq] == [0, 2]  # one frame per second by default
    assert [f.timestamp for f in record.vpdq] == [0.0, 1.0]
