"""Hash one file: sniff, digest the bytes, decode, remove bars, PDQ/vPDQ."""

from __future__ import annotations

from pathlib import Path

from hashwall.hashing.fast import hash_photo_fast
from hashwall.hashing.options import HashMode, HashOptions
from hashwall.hashing.record import BorderlessPdq, HashRecord
from hashwall.media.borders import find_uniform_borders
from hashwall.media.errors import MediaError
from hashwall.media.image import frame_count, load_photo, open_image
from hashwall.media.sniff import ContentKind, may_be_animated, sniff_kind
from hashwall.media.video import iter_video_frames, iter_video_luma
from hashwall.signals import md5, pdq, sha256, vpdq
from hashwall.signals.exact import digest_file
from hashwall.signals.pdq import PdqDigest


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
        frames = _hash_video(path, options)
        return HashRecord(str(path), kind, digests["md5"], digests["sha256"], vpdq=frames)
    return _hash_photo(path, options, digests)


def _hash_video(path: Path, options: HashOptions) -> list[vpdq.VpdqFrame]:
    """Exact mode: every frame decoded and converted to RGB, Meta's vPDQ. Fast mode: luma planes,
    keyframe seeking when sampling, banded matrix PDQ (docs/hash-formats.md has the tolerance).
    """
    if options.mode is HashMode.FAST and options.frame_size is None:
        return vpdq.hash_luma_frames(
            iter_video_luma(
                path,
                seconds_per_hash=options.seconds_per_hash,
                max_pixels=options.max_pixels,
                max_video_seconds=options.max_video_seconds,
                limits=options.video_limits,
            ),
            remove_borders=options.remove_borders,
            mirror=options.dihedral,
        )
    return vpdq.hash_frames(
        iter_video_frames(
            path,
            seconds_per_hash=options.seconds_per_hash,
            frame_size=options.frame_size,
            max_pixels=options.max_pixels,
            max_video_seconds=options.max_video_seconds,
            limits=options.video_limits,
        ),
        remove_borders=options.remove_borders,
        mirror=options.dihedral,
    )


def _is_animation(path: Path, options: HashOptions) -> bool:
    """GIF and WebP with more than one frame are videos to us (Meta's vPDQ treats them so too)."""
    if not may_be_animated(path):
        return False
    image = open_image(path, options.max_pixels)
    with image:
        return frame_count(image) > 1


def _hash_photo(path: Path, options: HashOptions, digests: dict[str, str]) -> HashRecord:
    if options.mode is HashMode.FAST:
        digest, borderless, (width, height) = hash_photo_fast(path, options)
    else:
        digest, borderless, (width, height) = _hash_photo_exact(path, options)
    return HashRecord(
        str(path),
        ContentKind.PHOTO,
        digests["md5"],
        digests["sha256"],
        pdq=digest,
        pdq_borderless=borderless,
        width=width,
        height=height,
    )


def _hash_photo_exact(
    path: Path, options: HashOptions
) -> tuple[PdqDigest, BorderlessPdq | None, tuple[int, int]]:
    """Full decode and Meta's reference hashing code: bit-exact with pdq-photo-hasher."""
    photo = load_photo(path, apply_exif=options.apply_exif, max_pixels=options.max_pixels)
    digest = pdq.hash_rgb(photo.rgb, dihedral=options.dihedral)
    borderless = None
    if options.remove_borders:
        crop = find_uniform_borders(photo.rgb)
        if crop is not None:
            inner = pdq.hash_rgb(crop.apply(photo.rgb), dihedral=options.dihedral)
            borderless = BorderlessPdq(inner, crop)
    height, width = photo.rgb.shape[:2]
    return digest, borderless, (width, height)
