"""Hash one file: sniff, digest the bytes, decode, remove bars, PDQ/vPDQ."""

from __future__ import annotations

from pathlib import Path

from hashwall.hashing.options import FAST_DRAFT_SIDE, HashMode, HashOptions
from hashwall.hashing.record import BorderlessPdq, HashRecord
from hashwall.media.borders import find_uniform_borders
from hashwall.media.errors import MediaError
from hashwall.media.image import frame_count, load_photo, open_image
from hashwall.media.sniff import ContentKind, sniff_kind
from hashwall.media.video import iter_video_frames
from hashwall.signals import md5, pdq, sha256, vpdq
from hashwall.signals.exact import digest_file


def hash_file(path: Path, options: HashOptions | None = None) -> HashRecord:
    """Fingerprint one photo or video; raises :class:`MediaError` with a readable reason."""
    options = options or HashOptions()
    kind = sniff_kind(path)
    try:
        digests = digest_file(path, [md5.SIGNAL, sha256.SIGNAL])
    except OSError as error:
        raise MediaError(path, f"cannot read file ({error.strerror or error})") from None
    if kind is ContentKind.PHOTO and _is_animation(path, options):
        kind = ContentKind.VIDEO
    if kind is ContentKind.VIDEO:
        frames = vpdq.hash_frames(
            iter_video_frames(
                path,
                seconds_per_hash=options.seconds_per_hash,
                frame_size=options.frame_size,
                max_pixels=options.max_pixels,
            ),
            remove_borders=options.remove_borders,
        )
        return HashRecord(str(path), kind, digests["md5"], digests["sha256"], vpdq=frames)
    return _hash_photo(path, options, digests)


def _is_animation(path: Path, options: HashOptions) -> bool:
    """GIF and WebP with more than one frame are videos to us (Meta's vPDQ treats them so too)."""
    with path.open("rb") as handle:
        header = handle.read(12)
    if header[:3] != b"GIF" and header[8:12] != b"WEBP":
        return False
    image = open_image(path, options.max_pixels)
    with image:
        return frame_count(image) > 1


def _hash_photo(path: Path, options: HashOptions, digests: dict[str, str]) -> HashRecord:
    draft = (FAST_DRAFT_SIDE, FAST_DRAFT_SIDE) if options.mode is HashMode.FAST else None
    photo = load_photo(
        path, apply_exif=options.apply_exif, max_pixels=options.max_pixels, draft_size=draft
    )
    digest = pdq.hash_rgb(photo.rgb, dihedral=options.dihedral)
    borderless = None
    if options.remove_borders:
        crop = find_uniform_borders(photo.rgb)
        if crop is not None:
            inner = pdq.hash_rgb(crop.apply(photo.rgb), dihedral=options.dihedral)
            borderless = BorderlessPdq(inner, crop)
    # Fast mode decodes JPEGs at 1/2..1/8 scale: report sizes and crops in full-size pixels.
    height, width = photo.rgb.shape[:2]
    scale = max(photo.original_size) / max(width, height)
    if borderless is not None and scale != 1.0:
        borderless = BorderlessPdq(borderless.digest, borderless.crop.scaled(scale))
    return HashRecord(
        str(path),
        ContentKind.PHOTO,
        digests["md5"],
        digests["sha256"],
        pdq=digest,
        pdq_borderless=borderless,
        width=round(width * scale),
        height=round(height * scale),
    )
