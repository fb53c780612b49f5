"""Issue 14, item 1: a copy uploaded with a public removal request is decoded under much
lower limits than a keyed upload (pixels from the header, frames, duration, time), and only
while this worker has a slot for it (a global and a per-address cap, 429 beyond).

Sizes are bounded: the "pixel bomb" is a 1 KB PNG that only *declares* 15000x15000."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from hashwall.hashing import HashOptions, hash_file
from hashwall.media import MediaTooLarge
from hashwall.service.public_uploads import UploadGate, public_hash_options
from hashwall.service.settings import Settings
from tests.conftest import textured_rgb
from tests.service.abuse_support import png_declaring
from tests.service.conftest import Api
from tests.service.takedown_helpers import png_bytes, raw_request, service_state


def _submit(api: Api, name: str, data: bytes) -> object:
    return api.client.post(
        "/v1/takedown/requests",
        data={"request": json.dumps(raw_request())},
        files={"file": (name, data)},
    )


def _video(path: Path, seconds: int, rate: int = 10) -> bytes:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(seconds * rate):
            picture = textured_rgb(index // rate, (64, 48))
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def test_pixel_bomb_is_refused_from_its_header(api: Api) -> None:
    # The report: a 27 KB PNG of 15000x15000 (mode "1") was accepted after 4.5 s at 2.6 GB.
    bomb = png_declaring(15_000, 15_000)
    assert len(bomb) < 30_000
    started = time.monotonic()
    response = _submit(api, "bomb.png", bomb)
    assert time.monotonic() - started < 3  # nothing was decoded
    assert response.status_code == 422, response.text
    (problem,) = response.json()["error"]
    assert problem["field"] == "upload"
    assert "15000x15000" in problem["message"] and "25,000,000" in problem["message"]
    assert "--max-pixels" not in problem["message"]  # no command-line advice for the public
    queue = api.call("GET", "/v1/takedown/requests", "reviewer").json()["requests"]
    assert queue == []  # nothing stored


def test_a_normal_photo_is_still_accepted(api: Api) -> None:
    response = _submit(api, "copy.png", png_bytes(7))
    assert response.status_code == 201, response.text


def test_public_uploads_have_their_own_byte_limit(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(settings.model_copy(update={"public_max_upload_bytes": 8 * 1024}))
    response = _submit(api, "big.png", b"\x89PNG" + b"\0" * (200 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "body"


def test_long_video_is_refused_from_its_declared_duration(
    api_factory: Callable[[Settings], Api], settings: Settings, tmp_path: Path
) -> None:
    # The report: a 162 KB, 100-second 1080p file cost 17 s of CPU.
    api = api_factory(settings.model_copy(update={"public_max_video_seconds": 2}))
    response = _submit(api, "long.mp4", _video(tmp_path / "long.mp4", seconds=5))
    assert response.status_code == 422, response.text
    (problem,) = response.json()["error"]
    assert "seconds long; the limit is 2 seconds" in problem["message"]


def test_video_frames_are_capped_while_decoding(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _video(path, seconds=3)
    settings = Settings(public_max_video_frames=12)
    with pytest.raises(MediaTooLarge, match="more than 12 frames"):
        hash_file(path, public_hash_options(settings))
    assert hash_file(path, HashOptions()).vpdq  # the command line's defaults: no cap


def test_video_decoding_has_a_time_budget(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    _video(path, seconds=3)
    settings = Settings(public_max_decode_seconds=1e-9)
    with pytest.raises(MediaTooLarge, match="decoding took longer"):
        hash_file(path, public_hash_options(settings))


def test_public_options_are_stricter_than_keyed_ones() -> None:
    settings = Settings()
    public = public_hash_options(settings)
    assert public.max_pixels == settings.public_max_pixels < HashOptions().max_pixels
    assert public.video_limits.threads == 1
    assert public.video_limits.max_frames == settings.public_max_video_frames


def test_gate_caps_per_address_and_in_total() -> None:
    gate = UploadGate(total=2, per_address=1)
    assert gate.try_enter("a") is None
    assert gate.try_enter("a") == "address"
    assert gate.try_enter("b") is None
    assert gate.try_enter("c") == "busy"
    gate.leave("a")
    assert gate.try_enter("c") is None
    assert gate.active == 2


def test_second_upload_from_one_address_gets_429(api: Api) -> None:
    gate = service_state(api).public_uploads
    assert gate.try_enter("testclient") is None  # an upload from this address is decoding
    try:
        response = _submit(api, "copy.png", png_bytes(3))
    finally:
        gate.leave("testclient")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "10"
    assert "still being processed" in response.json()["error"]["message"]
    # A request without a copy to decode does not need a slot.
    plain = api.client.post("/v1/takedown/requests", json=raw_request(urls=["https://e.org/x"]))
    assert plain.status_code == 201


def test_uploads_wait_for_a_free_slot_then_429(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    api = api_factory(
        settings.model_copy(
            update={"public_upload_concurrency": 1, "public_upload_wait_seconds": 0.2}
        )
    )
    gate = service_state(api).public_uploads
    assert gate.try_enter("someone-else") is None
    try:
        response = _submit(api, "copy.png", png_bytes(3))
    finally:
        gate.leave("someone-else")
    assert response.status_code == 429
    assert "too many uploads" in response.json()["error"]["message"]
    assert _submit(api, "copy.png", png_bytes(4)).status_code == 201
