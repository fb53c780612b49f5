"""No client addresses in the access log for the public pages and their APIs.

Why: docs/portal.md promises that nothing links a survivor to a submission, yet uvicorn's
access log wrote the client address next to every ``POST /v1/portal/cases`` (and removal
request, and notice), and the log line's time next to it: enough to tie a person's address
to their case. For the public routes the address is replaced with ``-``; the request line and
status stay, so operators still see traffic and errors. Authenticated API routes keep the
address (platform callers, useful against abuse). Behind a proxy, the proxy's own log must be
configured the same way.
"""

from __future__ import annotations

import logging

#: Paths anyone may call without a key, where the caller is a person to protect.
PUBLIC_PREFIXES = ("/portal", "/v1/portal", "/takedown", "/v1/takedown/requests", "/notices")
ACCESS_LOGGER = "uvicorn.access"
REDACTED = "-"


def is_public_path(path: str) -> bool:
    """Whether ``path`` (with or without a query string) is one of the public routes."""
    path = path.split("?", 1)[0]
    return any(path == prefix or path.startswith(prefix + "/") for prefix in PUBLIC_PREFIXES)


class PublicAddressFilter(logging.Filter):
    """Drops the client address from uvicorn's access records of public paths.

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with (address, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and is_public_path(str(args[2])):
            record.args = (REDACTED, *args[1:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger once (each worker builds its app)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PublicAddressFilter) for f in logger.filters):
        logger.addFilter(PublicAddressFilter())
