"""Shared helpers for the takedown tests: valid requests, synthetic copies, a fake clock."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from PIL import Image

from hashwall.service.state import ServiceState
from tests.conftest import textured_rgb
from tests.service.conftest import Api


class FakeClock:
    """A clock tests move by hand (deadlines, escalation) instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


def raw_request(**changes: Any) -> dict[str, Any]:
    """A complete, valid removal request (synthetic requester)."""
    body: dict[str, Any] = {
        "requester_name": "Alex Example",
        "contact_email": "alex@example.org",
        "relation": "depicted_person",
        "good_faith": True,
        "signature": {
            "full_name": "Alex Example",
            "signed_at": datetime.now(UTC).isoformat(),
        },
        "jurisdiction": "US",
    }
    body.update(changes)
    return body


def service_state(api: Api) -> ServiceState:
    state = api.client.app.state.hashwall  # type: ignore[attr-defined]
    assert isinstance(state, ServiceState)
    return state


def jpeg_bytes(
    seed: int, quality: int, transform: Callable[[Image.Image], Image.Image] | None = None
) -> bytes:
    """A synthetic picture, optionally transformed, encoded as JPEG at ``quality``."""
    image = Image.fromarray(textured_rgb(seed))
    if transform is not None:
        image = transform(image)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(textured_rgb(seed)).save(buffer, format="PNG")
    return buffer.getvalue()


def flip(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def add_catalog_upload(api: Api, content_id: str, data: bytes, url: str = "") -> dict[str, Any]:
    response = api.call(
        "POST",
        "/v1/catalog/items/upload",
        "hasher",
        files={"file": (f"{content_id}.jpg", data)},
        data={"content_id": content_id, "url": url or f"https://platform.example/p/{content_id}"},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]
