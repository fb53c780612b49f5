"""Which URLs the service stores and renders as links: ``http`` and ``https`` only.

Why: a catalog item's ``url`` is shown to reviewers as a link. A ``javascript:`` (or ``data:``,
``vbscript:``, ``file:``) URL stored by a hasher key would run script in a reviewer's session
the moment it is clicked. So every stored URL is checked on the way in (422 naming the field),
and the pages render anything that still is not http(s) (rows written before this check) as
plain text, never as a link.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
WEB_SCHEMES = ("http", "https")
NOT_WEB_URL = "must be an http:// or https:// URL with a host (other schemes are refused)"


def is_web_url(url: str) -> bool:
    """An absolute http(s) URL with a host, no whitespace or control characters."""
    if not url or len(url) > MAX_URL_LENGTH:
        return False
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(parts.hostname)


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be stored (``None``: it may). The empty string means "no URL"."""
    if url == "":
        return None
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    return None if is_web_url(url) else NOT_WEB_URL
