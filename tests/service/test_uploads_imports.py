"""Media uploads (hashed server-side, size-limited) and all-or-nothing bulk imports."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hashwall.hashing import HashOptions, hash_file
from hashwall.service.routes import imports as imports_module
from hashwall.store import Entry, ImportJob, create_database
from tests.conftest import textured_rgb
from tests.service.conftest import Api


def png_bytes(seed: int, transform: Any = None) -> bytes:
    image = Image.fromarray(textured_rgb(seed))
    if transform is not None:
        image = transform(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def jsonl_line(seed: int, tmp_path: Path) -> str:
    path = tmp_path / f"known-{seed}.png"
    path.write_bytes(png_bytes(seed))
    return json.dumps(hash_file(path, HashOptions()).as_json())


def upload_match(api: Api, *files: tuple[str, bytes], **form: Any) -> Any:
    response = api.call(
        "POST",
        "/v1/match/upload",
        "matcher",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data=form,
    )
    return response


def count_entries(api: Api) -> int:
    db = create_database(api.settings.resolved_database_url())
    try:
        with db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Entry)) or 0)
    finally:
        db.dispose()


def test_upload_entry_then_match_rotated_upload(api: Api) -> None:
    bank = api.create_bank()
    added = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries/upload",
        "curator",
        files={"file": ("evidence.png", png_bytes(3), "image/png")},
        data={"case_ref": "CASE-1", "source": "helpline", "metadata": '{"reported": true}'},
    )
    assert added.status_code == 201, added.text
    entry = added.json()
    assert (entry["case_ref"], entry["source"], entry["metadata"]) == (
        "CASE-1",
        "helpline",
        {"reported": True},
    )
    assert {s["signal_type"] for s in entry["signals"]} == {"pdq", "md5", "sha256"}
    rotated = png_bytes(3, lambda im: im.transpose(Image.Transpose.ROTATE_90))
    response = upload_match(api, ("rotated.png", rotated), ("other.png", png_bytes(99)))
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["filename"] == "rotated.png" and first["matched"]
    hit = first["banks"][0]["matches"][0]
    assert hit["entry_id"] == entry["id"] and hit["signal"] == "pdq"
    assert hit["query_variant"].startswith("rotate")
    assert not second["matched"]


def test_upload_leaves_no_temp_file(api: Api) -> None:
    before = set(Path(tempfile.gettempdir()).glob("hashwall-upload-*"))
    assert upload_match(api, ("a.png", png_bytes(4))).status_code == 200
    assert upload_match(api, ("bad.jpg", b"not an image at all")).status_code == 422
    assert set(Path(tempfile.gettempdir()).glob("hashwall-upload-*")) == before


def test_bad_uploads_are_4xx_with_field(api: Api) -> None:
    corrupt = upload_match(api, ("x.jpg", b"\xff\xd8\xff\xe0 truncated"))
    assert corrupt.status_code == 422
    assert corrupt.json()["error"]["field"] == "files.0"
    empty = upload_match(api, ("empty.png", b""))
    assert empty.status_code == 422
    too_big = upload_match(api, ("big.png", b"\0" * (api.settings.max_upload_bytes + 1)))
    assert too_big.status_code == 413
    loose = upload_match(api, ("a.png", png_bytes(5)), max_distance="40")
    assert loose.status_code == 422 and loose.json()["error"]["field"] == "max_distance"
    no_files = api.call("POST", "/v1/match/upload", "matcher", data={"max_distance": "3"})
    assert no_files.status_code == 422


def test_video_upload_matches_by_vpdq_percentages(api: Api, tmp_path: Path) -> None:
    frames = [Image.fromarray(textured_rgb(seed)) for seed in (10, 11, 12, 13)]
    gif = tmp_path / "clip.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=1000, loop=0)
    bank = api.create_bank()
    added = api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries/upload",
        "curator",
        files={"file": ("clip.gif", gif.read_bytes(), "image/gif")},
    )
    assert added.status_code == 201, added.text
    assert added.json()["content_type"] == "video"
    # Re-encoded smaller: different bytes, same frames.
    small = [frame.resize((240, 180)) for frame in frames]
    resized = tmp_path / "clip-small.gif"
    small[0].save(resized, save_all=True, append_images=small[1:], duration=1000, loop=0)
    response = upload_match(api, ("clip-small.gif", resized.read_bytes()))
    result = response.json()["results"][0]
    assert result["matched"], result
    hit = result["banks"][0]["matches"][0]
    assert hit["signal"] == "vpdq" and hit["query_match_percent"] >= 80.0
    assert hit["compared_match_percent"] > 0
    # Half of the frames is below Meta's 80 % query threshold.
    half = tmp_path / "half.gif"
    other = [Image.fromarray(textured_rgb(seed)) for seed in (50, 51)]
    frames[0].save(half, save_all=True, append_images=[frames[1], *other], duration=1000)
    assert not upload_match(api, ("half.gif", half.read_bytes())).json()["results"][0]["matched"]


def test_server_side_hash_endpoint(api: Api) -> None:
    response = api.call(
        "POST", "/v1/hash", "hasher", files={"file": ("p.png", png_bytes(6), "image/png")}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["path"] == "p.png" and len(data["signals"]["pdq"]["hash"]) == 64


def import_file(api: Api, bank_id: int, content: str, **form: Any) -> Any:
    return api.call(
        "POST",
        f"/v1/banks/{bank_id}/imports",
        "curator",
        files={"file": ("list.txt", content.encode(), "text/plain")},
        data=form,
    )


def test_import_jsonl_and_csv(api: Api, tmp_path: Path) -> None:
    bank = api.create_bank()
    lines = "\n".join(jsonl_line(seed, tmp_path) for seed in (20, 21, 22)) + "\n"
    created = import_file(api, bank["id"], lines, case_ref="BATCH-1")
    assert created.status_code == 201, created.text
    assert (created.json()["entry_count"], created.json()["format"]) == (3, "jsonl")
    csv_text = "signal_type,signal_value\npdq," + "1" * 64 + "\nmd5," + "e" * 32 + "\n"
    assert import_file(api, bank["id"], csv_text).json()["entry_count"] == 2
    listed = api.call("GET", f"/v1/banks/{bank['id']}/entries?limit=10", "reviewer").json()
    assert len(listed["entries"]) == 5
    assert listed["entries"][0]["case_ref"] == "BATCH-1"
    assert listed["entries"][0]["label"].endswith("known-20.png")
    match = api.call(
        "POST", "/v1/match/upload", "matcher", files=[("files", ("q.png", png_bytes(21)))]
    )
    assert match.json()["results"][0]["matched"]


def test_import_is_idempotent(api: Api) -> None:
    bank = api.create_bank()
    csv_text = "pdq," + "2" * 64 + "\n"
    first = import_file(api, bank["id"], csv_text)
    again = import_file(api, bank["id"], csv_text)
    assert first.status_code == 201 and first.json()["created"]
    assert again.status_code == 201 and not again.json()["created"]
    assert again.json()["id"] == first.json()["id"]
    keyed = import_file(api, bank["id"], csv_text, idempotency_key="upload-42")
    assert keyed.json()["created"]
    assert (
        import_file(api, bank["id"], "pdq," + "3" * 64, idempotency_key="upload-42").json()["id"]
        == keyed.json()["id"]
    )
    assert count_entries(api) == 2


def test_bad_line_rejects_the_whole_import(api: Api) -> None:
    bank = api.create_bank()
    bad = "pdq," + "4" * 64 + "\npdq,not-a-hash\n"
    response = import_file(api, bank["id"], bad)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "file"
    assert "line 2" in response.json()["error"]["message"]
    assert count_entries(api) == 0
    assert import_file(api, bank["id"], "").status_code == 422
    assert (
        import_file(api, bank["id"], "\xff".encode("latin-1").decode("latin-1")).status_code == 422
    )


class Killed(Exception):
    pass


def test_import_killed_midway_is_invisible_then_retry_completes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after half the rows were flushed (as when the process dies) leaves nothing;
    the retry with the same key imports everything exactly once."""
    bank = api.create_bank()
    content = "".join(f"pdq,{i:064x}\n" for i in range(1, 2501))
    original = imports_module._parse
    monkeypatch.setattr(imports_module, "_FLUSH_EVERY", 500)

    def dying(upload: Any, kind: str) -> Any:
        for number, item in enumerate(original(upload, kind), start=1):
            if number == 1800:
                raise Killed  # not an HTTP error: an unexpected crash mid-transaction
            yield item

    monkeypatch.setattr(imports_module, "_parse", dying)
    crashed = import_file(api, bank["id"], content, idempotency_key="job-1")
    assert crashed.status_code == 500 and crashed.json()["error"]["code"] == "internal"
    assert count_entries(api) == 0
    monkeypatch.setattr(imports_module, "_parse", original)
    done = import_file(api, bank["id"], content, idempotency_key="job-1")
    assert done.status_code == 201 and done.json()["entry_count"] == 2500
    replay = import_file(api, bank["id"], content, idempotency_key="job-1")
    assert not replay.json()["created"]
    assert count_entries(api) == 2500
    db = create_database(api.settings.resolved_database_url())
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 1
    db.dispose()
    hit = api.call(
        "POST",
        "/v1/match/hashes",
        "matcher",
        json={"queries": [{"signal_type": "pdq", "signal_value": f"{2400:064x}"}]},
    )
    assert hit.json()["results"][0]["matched"]
