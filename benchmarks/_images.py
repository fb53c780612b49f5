"""Benchmark pictures that need no network: public-domain/BSD images shipped in packages.

Why these: the benchmarks must run offline on any clone, must never touch intimate imagery, and
must be re-creatable by anyone. Sources, all non-sexual:

* ``skimage.data`` (scikit-image, BSD; the pictures are public domain or CC0, see
  ``skimage/data/README.txt``): only the images bundled in the wheel, not the pooch downloads.
* Meta's PDQ test pictures in ``../shared/conformance/threatexchange/pdq/data`` (BSD).
* Frames of Meta's TMK sample videos in ``../shared/conformance/threatexchange/tmk/sample-videos``
  (BSD), decoded with PyAV.

Each source carries a *group*: pictures of the same scene (the bridge in several files, frames of
one video) share it, so a benchmark can keep "unrelated" images really unrelated.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parent.parent
CONFORMANCE = REPO.parent / "shared" / "conformance" / "threatexchange"
PDQ_DATA = CONFORMANCE / "pdq" / "data"
VIDEOS = CONFORMANCE / "tmk" / "sample-videos"

RGB = NDArray[np.uint8]

# Photographs (real texture, what a hash list is made of). ``cat`` is the same picture as
# ``chelsea``; ``lfw_subset`` is 25x25 thumbnails; the rest of skimage.data needs a download.
SKIMAGE_PHOTOS = (
    "astronaut",
    "camera",
    "chelsea",
    "coffee",
    "rocket",
    "moon",
    "coins",
    "clock",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "stereo_motorcycle",
)
# Textures, scans and graphics: fine as unrelated material, not as the pictures we look for.
SKIMAGE_OTHER = ("brick", "grass", "gravel", "cell", "page", "text", "colorwheel", "logo", "horse")

# (file under pdq/data, group). modes/original.jpg is the bridge again.
META_PHOTOS = (
    ("bridge-mods/aaa-orig.jpg", "bridge"),
    ("misc-images/c.png", "meta-c"),
    ("reg-test-input/pen-and-coaster.png", "pen-and-coaster"),
    ("reg-test-input/exif-rotn/exif-rotn-1.jpg", "exif-rotn"),
    ("misc-images/small.jpg", "meta-small"),
    *(
        (f"reg-test-input/labelme-subset/{name}.jpg", f"labelme-{name}")
        for name in ("q0003", "q0004", "q0122", "q0291", "q0746", "q1050", "q2821")
    ),
)
# (video, group, seconds to grab frames at). Chair videos all show one scene, so one of them.
VIDEO_FRAMES = (
    ("doorknob-hd-no-bar.mp4", "doorknob", (0.5, 1.5, 2.5, 3.5)),
    ("pattern-hd-no-bar.mp4", "pattern", (0.5, 2.0, 3.5, 5.0, 6.5)),
    ("chair-orig-22-sd-bar.mp4", "chair", (1.0, 5.0, 9.0, 13.0, 17.0, 21.0)),
    ("test-padded-dimensions.mp4", "padded", (0.5, 2.5, 4.5)),
)


@dataclass(frozen=True)
class Source:
    name: str
    group: str
    rgb: RGB
    photo: bool  # a photograph worth using as a "known" picture


def _as_rgb(array: NDArray[np.generic]) -> RGB:
    data = np.asarray(array)
    if data.dtype != np.uint8:
        scaled = data.astype(np.float64)
        if scaled.max() <= 1.0:
            scaled = scaled * 255.0
        data = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if data.ndim == 2:
        data = np.repeat(data[:, :, None], 3, axis=2)
    if data.shape[2] == 4:  # flatten alpha over white, as hashwall does
        alpha = data[..., 3:4].astype(np.float32) / 255.0
        data = np.rint(data[..., :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(data[..., :3])


def _skimage_sources() -> Iterator[Source]:
    try:
        from skimage import data
    except ImportError as error:  # pragma: no cover - bench extra not installed
        raise SystemExit("benchmarks need scikit-image: pip install -e '.[bench]'") from error
    for names, photo in ((SKIMAGE_PHOTOS, True), (SKIMAGE_OTHER, False)):
        for name in names:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = getattr(data, name)()
            if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
                image = image[0]
            yield Source(f"skimage:{name}", f"skimage-{name}", _as_rgb(image), photo)


def _meta_sources() -> Iterator[Source]:
    for relative, group in META_PHOTOS:
        path = PDQ_DATA / relative
        if not path.exists():
            continue
        with Image.open(path) as image:
            shown = ImageOps.exif_transpose(image)
            rgb = _as_rgb(np.asarray(shown.convert("RGBA")))
        yield Source(f"meta:{path.name}", group, rgb, min(rgb.shape[:2]) >= 200)


def _video_sources() -> Iterator[Source]:
    import av

    for name, group, seconds in VIDEO_FRAMES:
        path = VIDEOS / name
        if not path.exists():
            continue
        wanted = list(seconds)
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if not wanted:
                    break
                if frame.time is not None and frame.time >= wanted[0]:
                    rgb = frame.to_ndarray(format="rgb24")
                    # The first frame of each video is a "known" picture, later ones are extra
                    # unrelated material for other groups.
                    first = len(wanted) == len(seconds)
                    yield Source(f"video:{name}@{wanted[0]}s", group, rgb, first)
                    wanted.pop(0)


def load_sources() -> list[Source]:
    """Every offline source picture, photographs first within each origin."""
    return [*_skimage_sources(), *_meta_sources(), *_video_sources()]


def resize_to_area(rgb: RGB, pixels: int) -> RGB:
    """Scale (Lanczos) to about ``pixels`` pixels, keeping the aspect ratio."""
    height, width = rgb.shape[:2]
    factor = (pixels / (width * height)) ** 0.5
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def tiles(rgb: RGB, grid: int) -> Iterator[RGB]:
    """Non-overlapping tiles of a ``grid`` x ``grid`` split (edge remainders dropped)."""
    height, width = rgb.shape[:2]
    tile_h, tile_w = height // grid, width // grid
    for row in range(grid):
        for col in range(grid):
            yield rgb[row * tile_h : (row + 1) * tile_h, col * tile_w : (col + 1) * tile_w]


def save_jpeg(rgb: RGB, path: Path, quality: int = 90) -> Path:
    Image.fromarray(rgb).save(path, "JPEG", quality=quality)
    return path


def save_png(rgb: RGB, path: Path) -> Path:
    Image.fromarray(rgb).save(path, "PNG", compress_level=1)
    return path
