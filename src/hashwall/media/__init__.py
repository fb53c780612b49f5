"""Decoding media into pixels: images (every Pillow mode, EXIF orientation), animations and videos.

Everything here raises :class:`MediaError` with a sentence a person understands, never a raw
decoder exception, so a batch can report the file and carry on.

Names are loaded on first use so that importing a light submodule (``hashwall.media.limits``)
does not pull in numpy, Pillow and FFmpeg (the CLI's start-up time depends on it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hashwall.media.limits import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from hashwall.media.borders import BorderCrop, find_uniform_borders
    from hashwall.media.errors import MediaError, MediaTooLarge
    from hashwall.media.image import load_photo
    from hashwall.media.sniff import ContentKind, sniff_kind
    from hashwall.media.video import VideoFrame, iter_video_frames

_WHERE = {
    "BorderCrop": "borders",
    "find_uniform_borders": "borders",
    "MediaError": "errors",
    "MediaTooLarge": "errors",
    "load_photo": "image",
    "ContentKind": "sniff",
    "sniff_kind": "sniff",
    "VideoFrame": "video",
    "iter_video_frames": "video",
}

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "BorderCrop",
    "ContentKind",
    "MediaError",
    "MediaTooLarge",
    "VideoFrame",
    "find_uniform_borders",
    "iter_video_frames",
    "load_photo",
    "sniff_kind",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"hashwall.media.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'hashwall.media' has no attribute {name!r}")
