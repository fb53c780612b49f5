"""Decoding media into pixels: images (every Pillow mode, EXIF orientation), animations and videos.

Everything here raises :class:`MediaError` with a sentence a person understands, never a raw
decoder exception, so a batch can report the file and carry on.
"""

from hashwall.media.borders import BorderCrop, find_uniform_borders
from hashwall.media.errors import MediaError, MediaTooLarge
from hashwall.media.image import DEFAULT_MAX_PIXELS, load_photo
from hashwall.media.sniff import ContentKind, sniff_kind
from hashwall.media.video import VideoFrame, iter_video_frames

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
