"""Decode a still image into an RGB pixel array, whatever Pillow mode or format it arrives in.

Survivors' photos come from phones (HEIC, EXIF-rotated JPEGs), screenshots (RGBA PNG), scanners
(16-bit TIFF) and editors (CMYK). Every one of them has to turn into the same 8-bit RGB pixels
that a person sees, or the same picture gets different hashes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from hashwall.media.errors import MediaError, MediaTooLarge
from hashwall.media.limits import DEFAULT_MAX_PIXELS

RGBArray = NDArray[np.uint8]

_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_HEIF_REGISTERED = False


def _register_heif() -> bool:
    """Teach Pillow HEIC/AVIF when the optional `pillow-heif` wheel is installed."""
    global _HEIF_REGISTERED
    if not _HEIF_REGISTERED:
        try:
            import pillow_heif
        except ImportError:
            return False
        pillow_heif.register_heif_opener()
        _HEIF_REGISTERED = True
    return True


@contextlib.contextmanager
def _own_bomb_check() -> Iterator[None]:
    """Switch off Pillow's global pixel limit while we apply our own, configurable one."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


@dataclass(frozen=True)
class DecodedPhoto:
    """Pixels of a still image as displayed (orientation applied), plus what we learned decoding."""

    rgb: RGBArray
    original_size: tuple[int, int]  # (width, height) of the stored image, before any draft scaling
    source_mode: str
    frame_count: int


def open_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open an image lazily (header only) and refuse oversized ones before decoding pixels."""
    _register_heif()
    try:
        with _own_bomb_check():
            image = Image.open(path)
    except UnidentifiedImageError:
        suffix = path.suffix.lower()
        if suffix in {".heic", ".heif", ".avif"} and not _register_heif():
            raise MediaError(
                path, "HEIC/AVIF support is not installed (pip install 'hashwall[heic]')"
            ) from None
        raise MediaError(
            path, "not a readable image (unknown, unsupported or corrupt format)"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(path, f"corrupt image header ({error})") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise MediaError(path, f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        plain = (
            f"the picture is {width}x{height} = {width * height:,} pixels; the limit is "
            f"{max_pixels:,}"
        )
        raise MediaTooLarge(
            path,
            f"image is too large: {width}x{height} = {width * height:,} pixels, limit is "
            f"{max_pixels:,} (possible decompression bomb; raise --max-pixels if genuine)",
            plain,
        )
    return image


def frame_count(image: Image.Image) -> int:
    """Number of frames: more than one means an animation, hashed as a video."""
    return int(getattr(image, "n_frames", 1) or 1)


def load_photo(
    path: Path,
    *,
    apply_exif: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> DecodedPhoto:
    """Decode the first frame of an image to RGB.

    ``draft_size`` lets JPEG decoders skip work by decoding at 1/2, 1/4 or 1/8 scale (never
    smaller than asked): the fast hashing mode uses it, the exact mode does not.
    """
    image = open_image(path, max_pixels)
    original_size = image.size
    source_mode = image.mode
    frames = frame_count(image)
    try:
        with _own_bomb_check():
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", draft_size)
            image.load()
            if apply_exif:
                image = ImageOps.exif_transpose(image)
            rgb = to_rgb_array(image)
    except MediaError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise MediaError(path, f"corrupt or truncated image data ({error})") from None
    except MemoryError:
        raise MediaError(path, "not enough memory to decode this image") from None
    return DecodedPhoto(rgb, original_size, source_mode, frames)


@dataclass(frozen=True)
class DecodedLuma:
    """Luma (grey) pixels as displayed, possibly decoded at reduced scale, and the full size."""

    luma: NDArray[np.uint8] | NDArray[np.float32]
    full_size: tuple[int, int]  # (width, height) as displayed, at full scale


_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def load_luma(
    path: Path,
    *,
    apply_exif: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> DecodedLuma:
    """Decode only what PDQ needs: luma, with JPEGs decoded straight to Y at reduced scale.

    JPEG stores Y (the same 0.299/0.587/0.114 luma PDQ uses) separately, so asking the decoder
    for "L" skips chroma upsampling and colour conversion, and ``draft`` skips most of the IDCT.
    """
    image = open_image(path, max_pixels)
    stored_width, stored_height = image.size
    orientation = image.getexif().get(0x0112, 1) if apply_exif else 1
    try:
        with _own_bomb_check():
            if draft_size is not None and image.format == "JPEG" and image.mode in {"RGB", "L"}:
                image.draft("L", draft_size)
            image.load()
            if apply_exif:
                image = ImageOps.exif_transpose(image)
            luma: NDArray[np.uint8] | NDArray[np.float32]
            if image.mode == "L":
                luma = np.asarray(image, dtype=np.uint8)
            else:
                luma = np.ascontiguousarray(to_rgb_array(image).astype(np.float32) @ _LUMA_WEIGHTS)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise MediaError(path, f"corrupt or truncated image data ({error})") from None
    except MemoryError:
        raise MediaError(path, "not enough memory to decode this image") from None
    if orientation in _TRANSPOSING_ORIENTATIONS:
        stored_width, stored_height = stored_height, stored_width
    return DecodedLuma(luma, (stored_width, stored_height))


def to_rgb_array(image: Image.Image) -> RGBArray:
    """Convert any Pillow mode to contiguous uint8 RGB, as a viewer would show it."""
    mode = image.mode
    if mode.startswith("I;16") or mode in {"I", "F"}:
        return _high_depth_to_rgb(np.asarray(image))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        return _flatten_alpha(image.convert("RGBA"))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _flatten_alpha(rgba_image: Image.Image) -> RGBArray:
    """Composite over white, the way browsers and galleries usually show transparency."""
    rgba = np.asarray(rgba_image, dtype=np.float32)
    alpha = rgba[..., 3:4] / 255.0
    rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
    return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def _high_depth_to_rgb(values: NDArray[np.generic]) -> RGBArray:
    """Map 16/32-bit integer or float grey images to 8 bits without clipping them to white."""
    data = values.astype(np.float64)
    if data.ndim == 3:
        data = data[..., 0]
    finite = data[np.isfinite(data)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 0.0
    if np.issubdtype(values.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        scaled = data * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = data
    elif low >= 0.0 and high <= 65535.0:
        scaled = data / 257.0
    else:
        scaled = (data - low) * (255.0 / (high - low)) if high > low else np.zeros_like(data)
    grey = np.clip(np.rint(np.nan_to_num(scaled)), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _allow_truncated_images_off() -> None:
    """Truncated files must fail loudly: a half-decoded image hashes to something wrong."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False


_allow_truncated_images_off()
