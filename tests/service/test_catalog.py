"""The platform catalog: registration by hash, upload and bulk; roles; removal; two workers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PIL import Image

from hashwall.service.settings import Settings
from tests.service.conftest import Api
from tests.service.test_uploads_imports import png_bytes
from tests.service.test_workers import wait_for

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def register(api: Api, content_id: str, role: str = "hasher", **body: Any) -> Any:
    body.setdefault("hashes", [{"signal_type": "pdq", "signal_value": PDQ}])
    return api.call("POST", "/v1/catalog/items", role, json={"content_id": content_id, **body})


def test_register_read_list_and_duplicate(api: Api) -> None:
    created = register(api, "post/1", url="https://platform.test/p/1", metadata={"k": 1})
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["content_id"] == "post/1" and item["state"] == "active"
    assert item["sweep"]["new_matches"] == 0 and item["sweep"]["checked"] == 1
    assert [s["variant"] for s in item["signals"]] == ["original"]
    again = register(api, "post/1")
    assert again.status_code == 409 and again.json()["error"]["field"] == "content_id"
    got = api.call("GET", f"/v1/catalog/items/{item['id']}", "reviewer")
    assert got.status_code == 200 and got.json()["url"] == "https://platform.test/p/1"
    listed = api.call("GET", "/v1/catalog/items", "reviewer", params={"content_id": "post/1"})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]
    assert api.call("GET", "/v1/catalog/items/999999", "reviewer").status_code == 404


def test_catalog_roles(api: Api) -> None:
    assert register(api, "a", role="matcher").status_code == 403
    assert register(api, "a", role="reviewer").status_code == 403
    assert register(api, "a", role="curator").status_code == 201
    assert api.call("GET", "/v1/catalog/items", "hasher").status_code == 403
    assert api.call("GET", "/v1/catalog/items", "reviewer").status_code == 200
    assert api.client.get("/v1/catalog/items").status_code == 401


def test_bad_catalog_input_is_422(api: Api) -> None:
    bad = register(api, "x", hashes=[{"signal_type": "pdq", "signal_value": "zz"}])
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "body.hashes.0.signal_value"
    assert register(api, "").status_code == 422
    both = register(api, "y", record={"signals": {}})
    assert both.status_code == 422


def test_upload_registration_stores_rotations(api: Api) -> None:
    response = api.call(
        "POST",
        "/v1/catalog/items/upload",
        "hasher",
        files={"file": ("photo.png", png_bytes(21), "image/png")},
        data={"content_id": "upload/1", "url": "https://platform.test/u/1"},
    )
    assert response.status_code == 201, response.text
    assert {s["signal_type"] for s in response.json()["signals"]} == {"pdq", "md5", "sha256"}
    corrupt = api.call(
        "POST",
        "/v1/catalog/items/upload",
        "hasher",
        files={"file": ("x.png", b"not an image", "image/png")},
        data={"content_id": "upload/2"},
    )
    assert corrupt.status_code == 422 and corrupt.json()["error"]["field"] == "file"


def _jsonl(*items: dict[str, Any]) -> bytes:
    return "\n".join(json.dumps(i) for i in items).encode()


def catalog_import(api: Api, data: bytes, **form: str) -> Any:
    return api.call(
        "POST",
        "/v1/catalog/imports",
        "hasher",
        files={"file": ("catalog.jsonl", data, "application/x-ndjson")},
        data=form,
    )


def test_bulk_import_all_or_nothing_and_idempotent(api: Api) -> None:
    lines = [
        {
            "content_id": f"bulk/{n}",
            "url": f"https://p.test/{n}",
            "signal_type": "md5",
            "signal_value": f"{n:032x}",
        }
        for n in range(5)
    ]
    first = catalog_import(api, _jsonl(*lines))
    assert first.status_code == 201, first.text
    assert first.json()["item_count"] == 5 and first.json()["created"]
    retry = catalog_import(api, _jsonl(*lines))
    assert retry.status_code == 201 and retry.json()["created"] is False
    assert retry.json()["id"] == first.json()["id"]
    listed = api.call("GET", "/v1/catalog/items", "reviewer").json()["items"]
    assert len(listed) == 5

    clash = [{"content_id": "new/1", "signal_type": "md5", "signal_value": "f" * 32}, lines[0]]
    conflict = catalog_import(api, _jsonl(*clash))
    assert conflict.status_code == 409
    repeated = catalog_import(api, _jsonl(clash[0], clash[0]))
    assert repeated.status_code == 422 and "repeats line 1" in repeated.json()["error"]["message"]
    broken = catalog_import(api, _jsonl(clash[0]) + b"\n{not json")
    assert broken.status_code == 422 and "line 2" in broken.json()["error"]["message"]
    missing = catalog_import(api, _jsonl({"signal_type": "md5", "signal_value": "e" * 32}))
    assert missing.status_code == 422 and "content_id" in missing.json()["error"]["message"]
    listed = api.call("GET", "/v1/catalog/items", "reviewer").json()["items"]
    assert len(listed) == 5  # nothing of the failed imports is visible


def test_removed_item_is_erased_and_not_swept(api: Api) -> None:
    item = register(api, "gone").json()
    removed = api.call("DELETE", f"/v1/catalog/items/{item['id']}", "curator")
    assert removed.status_code == 200
    assert removed.json()["state"] == "removed" and removed.json()["signals"] == []
    bank = api.create_bank()
    api.call(
        "POST",
        f"/v1/banks/{bank['id']}/entries",
        "curator",
        json={"hashes": [{"signal_type": "pdq", "signal_value": PDQ}]},
    )
    records = api.call("GET", f"/v1/catalog/items/{item['id']}/matches", "reviewer").json()
    assert records["records"] == []


def upload_rotated(api: Api, seed: int, content_id: str) -> Any:
    """Register a catalog item by uploading a picture turned by 90 degrees."""
    rotated = png_bytes(seed, lambda im: im.transpose(Image.Transpose.ROTATE_90))
    return api.call(
        "POST",
        "/v1/catalog/items/upload",
        "hasher",
        files={"file": ("r.png", rotated, "image/png")},
        data={"content_id": content_id},
    ).json()


def upload_entry(api: Api, bank_id: int, seed: int) -> Any:
    """Add the upright picture to a bank (its sweep finds the rotated item)."""
    return api.call(
        "POST",
        f"/v1/banks/{bank_id}/entries/upload",
        "curator",
        files={"file": ("e.png", png_bytes(seed), "image/png")},
    ).json()


def entries_matched(api: Api, item_id: int) -> list[int]:
    records = api.call("GET", f"/v1/catalog/items/{item_id}/matches", "reviewer").json()
    return [r["entry_id"] for r in records["records"]]


def test_second_worker_sweeps_items_registered_in_the_first(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    first = api_factory(settings)
    second = api_factory(settings)
    second.keys = first.keys = {**first.keys, **second.keys}
    item = upload_rotated(first, 30, "w/1")
    assert wait_for(lambda: item["id"] in second.client.app.state.hashwall.catalog, 2) < 1
    entry = upload_entry(second, second.create_bank()["id"], 30)
    assert entries_matched(second, item["id"]) == [entry["id"]]


def test_a_restarted_worker_loads_the_catalog_in_columns(
    api_factory: Callable[[Settings], Api], settings: Settings
) -> None:
    """Items registered before start are loaded by the columnar scan (every rotation and
    flip, the digests); a removed item is not; an entry added afterwards sweeps them."""
    first = api_factory(settings)
    kept = upload_rotated(first, 31, "kept")
    md5 = {"signal_type": "md5", "signal_value": "a" * 32}
    by_digest = register(first, "digest", hashes=[md5]).json()
    gone = register(first, "gone").json()
    first.call("DELETE", f"/v1/catalog/items/{gone['id']}", "curator")

    restarted = api_factory(settings)
    restarted.keys = {**restarted.keys, **first.keys}
    catalog = restarted.client.app.state.hashwall.catalog
    assert len(catalog) == 2 and kept["id"] in catalog and gone["id"] not in catalog
    bank = restarted.create_bank()
    entry = upload_entry(restarted, bank["id"], 31)
    assert entries_matched(restarted, kept["id"]) == [entry["id"]]
    restarted.call("POST", f"/v1/banks/{bank['id']}/entries", "curator", json={"hashes": [md5]})
    assert len(entries_matched(restarted, by_digest["id"])) == 1
