"""Tell photos from videos by their first bytes, not by their file name.

File names lie (a `.jpg` that is really an MP4, a download with no extension); magic bytes rarely
do. Animated GIF/WebP are recognised later, once decoded, because only the frame count tells.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from hashwall.media.errors import MediaError


class ContentKind(StrEnum):
    """python-threatexchange's content types that hashwall hashes."""

    PHOTO = "photo"
    VIDEO = "video"


PHOTO_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".png",
        ".gif",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".heic",
        ".heif",
        ".avif",
    }
)
VIDEO_EXTENSIONS = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".webm",
        ".mkv",
        ".avi",
        ".3gp",
        ".mpg",
        ".mpeg",
        ".ts",
        ".wmv",
        ".flv",
    }
)
MEDIA_EXTENSIONS = PHOTO_EXTENSIONS | VIDEO_EXTENSIONS

_ISO_PHOTO_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}

HEADER_BYTES = 512
_TS_PACKET = 188


def may_be_animated(path: Path) -> bool:
    """GIF or WebP: formats whose files can hold an animation (Pillow decodes those, not FFmpeg)."""
    with path.open("rb") as handle:
        header = handle.read(12)
    return header[:6] in (b"GIF87a", b"GIF89a") or (
        header[:4] == b"RIFF" and header[8:12] == b"WEBP"
    )


def kind_from_header(header: bytes) -> ContentKind | None:
    """Classify the first bytes of a file; ``None`` when it is no media format we know."""
    if header.startswith(b"\xff\xd8\xff") or header.startswith(b"\x89PNG\r\n\x1a\n"):
        return ContentKind.PHOTO
    if header[:6] in (b"GIF87a", b"GIF89a") or header[:2] == b"BM":
        return ContentKind.PHOTO
    if header[:4] in (b"II*\x00", b"MM\x00*"):
        return ContentKind.PHOTO
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return ContentKind.PHOTO
    if header[:4] == b"RIFF" and header[8:12] == b"AVI ":
        return ContentKind.VIDEO
    if header[4:8] == b"ftyp":
        return ContentKind.PHOTO if header[8:12] in _ISO_PHOTO_BRANDS else ContentKind.VIDEO
    if header[:4] == b"\x1a\x45\xdf\xa3":  # Matroska / WebM
        return ContentKind.VIDEO
    if header[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return ContentKind.VIDEO  # MPEG program / elementary stream
    if (
        len(header) > 2 * _TS_PACKET
        and header[0] == header[_TS_PACKET] == header[2 * _TS_PACKET] == 0x47
    ):
        return ContentKind.VIDEO  # MPEG-TS: a sync byte every 188 bytes
    if header[:4] == b"FLV\x01" or header[:4] == b"\x30\x26\xb2\x75":
        return ContentKind.VIDEO
    return None


def sniff_kind(path: Path) -> ContentKind:
    """Read a file's header and say whether it is a photo or a video, or explain why not."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise MediaError(path, "is a folder, not a file")
        if size == 0:
            raise MediaError(path, "empty file (0 bytes)")
        with path.open("rb") as handle:
            header = handle.read(HEADER_BYTES)
    except FileNotFoundError:
        raise MediaError(path, "no such file") from None
    except PermissionError:
        raise MediaError(path, "permission denied") from None
    except IsADirectoryError:
        raise MediaError(path, "is a folder, not a file") from None
    kind = kind_from_header(header)
    if kind is None:
        raise MediaError(path, "not an image or video (unrecognised file format)")
    return kind
