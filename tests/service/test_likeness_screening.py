"""Screening through the API: purpose limitation, review queue integration, revocation,
rate limits, 503 without the extra, and no route that leaks embeddings.

The intimate classifier is a test double (``FixedScore``): no intimate content is ever used.
Faces are the astronaut (NASA, public domain) and the cameraman (CC0)."""

from __future__ import annotations

from importlib.util import find_spec
from typing import Any

import pytest

from tests.service.conftest import Api

if any(find_spec(name) is None for name in ("cryptography", "onnxruntime", "cv2")):
    pytest.skip("the likeness extra is not installed", allow_module_level=True)

from hashwall.likeness.models import FaceModels, default_face_models
from hashwall.likeness.templates import template_to_bytes
from tests.likeness.conftest import FixedScore, SpyDetector
from tests.service.likeness_helpers import (
    ASTRONAUT,
    CAMERAMAN,
    astronaut_template,
    cameraman_template,
    upload,
)


def _runtime(api: Api) -> Any:
    return api.client.app.state.hashwall.likeness  # type: ignore[attr-defined]


def _doubles(api: Api, score: float) -> tuple[FixedScore, SpyDetector]:
    classifier = FixedScore(score)
    real = default_face_models()
    spy = SpyDetector(real.detector)
    runtime = _runtime(api)
    runtime.classifier = lambda: classifier
    runtime.face_models = lambda: FaceModels(spy, real.embedder)
    return classifier, spy


def _screen(api: Api, path: Any = ASTRONAUT, role: str = "matcher") -> Any:
    with open(path, "rb") as handle:
        return api.call(
            "POST", "/v1/likeness/screen", role, files={"file": (path.name, handle.read())}
        )


def test_non_intimate_content_never_reaches_the_face_detector(api: Api) -> None:
    assert upload(api, template_to_bytes(astronaut_template())).status_code == 201
    classifier, spy = _doubles(api, 0.1)
    response = _screen(api)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["intimate"] is False and body["match_for_review"] is False
    assert classifier.calls == 1 and spy.calls == 0  # purpose limitation
    assert api.call("GET", "/v1/reviews", "reviewer").json()["reviews"] == []


def test_a_hit_goes_to_the_review_queue_and_revocation_stops_it(api: Api) -> None:
    created = upload(api, template_to_bytes(astronaut_template())).json()
    upload(api, template_to_bytes(cameraman_template()))
    _classifier, spy = _doubles(api, 0.97)
    response = _screen(api)
    assert response.status_code == 200, response.text
    body = response.json()
    assert spy.calls >= 1 and body["intimate"] is True and body["match_for_review"] is True
    assert len(body["matches"]) == 1  # the astronaut, not the cameraman
    # What the platform learns: ids only, no identity or similarity.
    assert set(body["matches"][0]) == {"match_record_id", "review_id"}
    assert created["template_id"] not in response.text and "similarity" not in response.text
    reviews = api.call("GET", "/v1/reviews", "reviewer").json()["reviews"]
    assert [r["id"] for r in reviews] == [body["matches"][0]["review_id"]]
    record = reviews[0]["match_record"]
    assert record["query_kind"] == "likeness" and record["entry_id"] == created["entry_id"]
    details = record["details"]
    assert details["template_id"] == created["template_id"]
    assert details["intimate_score"] == 0.97 and details["similarity"] >= 0.9
    assert len(details["box"]) == 4
    assert "showing enrolled person" in details["what"]
    # The same review flow as hash matches.
    review_id = reviews[0]["id"]
    decided = api.call(
        "POST", f"/v1/reviews/{review_id}/decision", "reviewer", json={"decision": "confirmed"}
    )
    assert decided.status_code == 200, decided.text
    # The cameraman does not match the astronaut's template.
    other = _screen(api, CAMERAMAN)
    assert other.json()["match_for_review"] is True  # the cameraman's own template
    url = f"/v1/likeness/templates/{created['template_id']}"
    assert api.call("DELETE", url, "likeness").status_code == 200
    after = _screen(api)
    assert after.status_code == 200 and after.json()["match_for_review"] is False


def test_webhook_action_fires_for_likeness_hits(api: Api) -> None:
    created = upload(api, template_to_bytes(astronaut_template())).json()
    bank_id = api.call("GET", f"/v1/entries/{created['entry_id']}", "reviewer").json()["bank_id"]
    patched = api.call("PATCH", f"/v1/banks/{bank_id}", "curator", json={"action": "webhook"})
    assert patched.status_code == 200, patched.text
    hook = api.call(
        "POST",
        f"/v1/banks/{bank_id}/webhooks",
        "curator",
        json={"url": "http://127.0.0.1:9/hook", "secret": "s" * 20},
    )
    assert hook.status_code == 201, hook.text
    _doubles(api, 0.9)
    body = _screen(api).json()
    assert body["match_for_review"] is True and body["matches"][0]["review_id"] is None
    deliveries = api.call("GET", f"/v1/webhooks/{hook.json()['id']}/deliveries", "curator")
    assert len(deliveries.json()["deliveries"]) == 1


def test_rate_limit_per_key_answers_429_with_retry_after(api_factory: Any, settings: Any) -> None:
    api = api_factory(settings.model_copy(update={"likeness_rate_limit": 2}))
    _doubles(api, 0.1)
    assert _screen(api).status_code == 200
    assert _screen(api).status_code == 200
    limited = _screen(api)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert _screen(api, role="curator").status_code == 200  # another key has its own budget


def test_roles_size_limit_and_bad_media(api: Api) -> None:
    _doubles(api, 0.1)
    assert _screen(api, role="likeness").status_code == 403
    assert _screen(api, role="reviewer").status_code == 403
    junk = api.call(
        "POST", "/v1/likeness/screen", "matcher", files={"file": ("x.jpg", b"not an image")}
    )
    assert junk.status_code == 422 and junk.json()["error"]["field"] == "file"
    big = b"\xff" * (api.settings.max_upload_bytes + 10)
    too_big = api.call("POST", "/v1/likeness/screen", "matcher", files={"file": ("b.jpg", big)})
    assert too_big.status_code == 413


def test_without_the_likeness_extra_the_endpoints_answer_503(api: Api) -> None:
    _runtime(api).missing = lambda names: ["onnxruntime"]
    response = _screen(api)
    assert response.status_code == 503 and "hashwall[likeness]" in response.text
    assert upload(api, template_to_bytes(astronaut_template())).status_code == 503
    assert api.call("GET", "/v1/health").status_code == 200


def test_no_route_accepts_a_face_or_returns_embeddings(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    likeness = {p for p in schema["paths"] if "likeness" in p}
    assert likeness == {
        "/v1/likeness/templates",
        "/v1/likeness/templates/{template_id}",
        "/v1/likeness/screen",
        "/v1/likeness/keys/rotate",  # admin: re-encrypts stored templates, answers counts only
    }
    forbidden = {"embedding", "embeddings", "ciphertext", "revocation_token_hash", "vector"}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key in node.get("properties", {}):
                assert key.lower() not in forbidden, f"{where}.{key}"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    walk(schema, "openapi")
    text = str(schema).lower()
    assert "similarity" not in text  # no response model exposes similarities
