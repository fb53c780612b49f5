"""Why an item was not hashed: a closed list of named reasons, so a summary can be compared
between runs and a bad input is always counted rather than silently dropped."""

from __future__ import annotations

from enum import StrEnum


class Skip(StrEnum):
    """A named, counted reason for not hashing (or not fully reading) something."""

    #: A WARC/WACZ that ends in the middle of a record or gzip member; what came before counts.
    TRUNCATED_WARC = "truncated_warc"
    #: A file that is not a WARC, WACZ or readable file at all.
    UNREADABLE_SOURCE = "unreadable_source"
    #: A payload that is not a photo, video or animation (HTML, scripts, fonts...).
    NON_MEDIA = "non_media"
    #: Over the byte cap, or over the pixel/video limits (decompression bombs).
    TOO_LARGE = "too_large"
    #: Media-looking bytes the decoders could not read.
    DECODE_ERROR = "decode_error"
    #: An archived or fetched HTTP response that is not 200 OK (404, 500, a redirect...).
    HTTP_ERROR = "http_error"
    #: A URL whose host does not resolve, refuses connections or answers 404/410.
    DEAD_URL = "dead_url"
    TIMEOUT = "timeout"
    ROBOTS_DISALLOWED = "robots_disallowed"
    #: A URL (or a redirect) leading to a private, loopback or link-local address.
    PRIVATE_ADDRESS = "private_address"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    #: Not an http(s) URL.
    BAD_URL = "bad_url"
    #: The worker hashing the item died (and Ray's retries, if any, were used up).
    WORKER_ERROR = "worker_error"
