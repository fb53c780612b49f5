"""Plumbing shared by the exchange fetch tests (NCMEC, ThreatExchange, StopNCII).

Each test file fakes one remote API and only its answers differ: the HTTP server on
127.0.0.1, its thread, the proxy settings that must not divert 127.0.0.1 elsewhere, the
teardown, and the "does this hash match now" check are the same for all three.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.service.conftest import Api
from tests.service.test_api_core import match

#: ``(status, content type, body)`` of one fake answer.
Reply = tuple[int, str, bytes]
#: Answers one GET: ``(path, query with one value per name, request headers)``.
Answer = Callable[[str, dict[str, str], Message], Reply]


def json_reply(status: int, body: Any) -> Reply:
    return status, "application/json", json.dumps(body).encode()


@contextmanager
def fake_server(monkeypatch: pytest.MonkeyPatch, answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on a free local port; yields ``http://127.0.0.1:<port>``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, content_type, data = answer(url.path, query, self.headers)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def matches(api: Api, signal_type: str, value: str) -> bool:
    result = match(api, {"signal_type": signal_type, "signal_value": value})["results"][0]
    return bool(result["matched"])
