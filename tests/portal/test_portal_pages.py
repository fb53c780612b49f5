"""The portal pages: strict headers, local files only."""

from __future__ import annotations

import re
from collections.abc import Callable

from hashwall.service.routes.portal import CSP, REPORT_REMOVE
from tests.service.conftest import Api

PortalApi = Callable[..., Api]


def test_pages_carry_the_strict_policy(portal_api: PortalApi) -> None:
    api = portal_api()
    for url in (
        "/portal",
        "/portal/status",
        "/portal/sw.js",
        "/portal/static/portal.js",
        "/portal/static/portal.css",
        "/portal/static/hashwall-hash.js",
        "/portal/static/hashwall-hash-worker.js",
    ):
        response = api.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert api.client.get("/portal/sw.js").headers["service-worker-allowed"] == "/portal"
    assert api.client.get("/portal/static/../settings.py").status_code == 404
    assert api.client.get("/portal/static/portal.html").status_code == 404
    page = api.client.get("/portal").text
    assert "takeitdown.ncmec.org" in page
    # No third-party anything: every src/href is local, or a plain link to the two services
    # made for images taken under 18 (Take It Down, Report Remove).
    under_18 = ("https://takeitdown.ncmec.org/", REPORT_REMOVE)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/portal", "#")) or url in under_18, url
