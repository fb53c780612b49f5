"""Helpers for the abuse regression tests: an ASGI driver that counts how much of a body the
server read, and small files that *declare* huge media (bounded sizes: nothing big is made).
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Driven:
    status: int
    headers: dict[str, str]
    body: bytes
    #: body chunks the app pulled from the client before it answered
    chunks_read: int

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def endless(chunk_size: int = 64 * 1024, count: int = 300 * 16) -> Iterator[bytes]:
    """``count`` chunks of ``chunk_size`` bytes (300 MiB by default), made one at a time."""
    chunk = b"[" + b" " * (chunk_size - 1)
    for _ in range(count):
        yield chunk


BOUNDARY = "hashwall-test-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def multipart_file(
    field: str = "file", chunk_size: int = 64 * 1024, count: int = 400 * 16
) -> Iterator[bytes]:
    """A multipart body whose one file part never ends (400 MiB by default)."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    chunk = b"\0" * chunk_size
    for _ in range(count):
        yield chunk


def drive(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: Iterable[bytes],
    client: str = "127.0.0.1",
) -> Driven:
    """Call the ASGI app as a server would, feeding the body chunk by chunk, and count how
    many chunks it asked for. The app's lifespan must be running (a TestClient's)."""
    source = iter(chunks)
    read = 0
    started: dict[str, Any] = {}
    parts: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (client, 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    response_headers = {k.decode().lower(): v.decode() for k, v in started.get("headers", [])}
    return Driven(started["status"], response_headers, b"".join(parts), read)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_declaring(width: int, height: int, mode_bits: int = 1) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (bilevel by default,
    like the 27 KB 15000x15000 file of the report) followed by a short run of compressed
    zeros: decoding it would allocate the whole picture; opening it reads only the header."""
    header = struct.pack(">IIBBBBB", width, height, mode_bits, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width * mode_bits + 7) // 8)
    data = zlib.compress(row * 64, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def stream_chunked(
    port: int, path: str, headers: dict[str, str], limit_mib: int
) -> tuple[int, int]:
    """Stream a chunked body of up to ``limit_mib`` MiB to a real server on 127.0.0.1 until it
    answers; returns (status, bytes sent before the answer). Bytes the kernel buffered after
    the server stopped reading count as sent."""
    import socket

    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    piece = f"{64 * 1024:x}\r\n".encode() + b"[" * (64 * 1024) + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        try:
            while sent < limit_mib * 1024 * 1024:
                sock.setblocking(False)
                try:
                    answer = sock.recv(4096)
                except BlockingIOError:
                    answer = b""
                finally:
                    sock.setblocking(True)
                if answer:
                    break
                sock.sendall(piece)
                sent += 64 * 1024
        except OSError:  # the server answered and closed while we were still sending
            pass
        if not answer:
            sock.settimeout(10)
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer[9:12]), sent
