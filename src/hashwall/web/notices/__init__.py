"""The survivor's notice tool in the browser, ``/notices``: the web side of ``hashwall notice``.

Stateless by design: the case file and its audit chain travel with each request (uploaded, or
carried in the page) and every notice is rendered in memory, so nothing about a survivor is
stored or logged on the server. See docs/cases.md, "In the browser".
"""

from __future__ import annotations

from hashwall.web.notices.routes import router

__all__ = ["router"]
