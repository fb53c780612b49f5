"""What public answers reveal (issue 14, item 14): a removal request's answer is the same
whether or not the content it names is hosted here, and the web form's receipt too."""

from __future__ import annotations

from typing import Any

from tests.service.conftest import Api
from tests.service.takedown_helpers import raw_request
from tests.service.test_catalog import register


def _public_shape(response: Any) -> tuple[int, list[str]]:
    return response.status_code, sorted(response.json())


def test_removal_request_answer_does_not_reveal_what_is_hosted(api: Api) -> None:
    assert register(api, "post/hosted", url="https://platform.example/p/hosted").status_code == 201
    hosted = api.client.post(
        "/v1/takedown/requests",
        json=raw_request(catalog_ids=["post/hosted"], urls=["https://platform.example/p/hosted"]),
    )
    unknown = api.client.post(
        "/v1/takedown/requests",
        json=raw_request(catalog_ids=["post/nope"], urls=["https://platform.example/p/nope"]),
    )
    assert hosted.status_code == unknown.status_code == 201, (hosted.text, unknown.text)
    assert _public_shape(hosted) == _public_shape(unknown)
    for response in (hosted, unknown):
        text = response.text
        assert "catalog" not in text and "tasks" not in text and "post/" not in text
    # The platform's reviewers still see what was found, and the unknown id is kept for them.
    found = api.call("GET", f"/v1/takedown/requests/{hosted.json()['case_id']}", "reviewer")
    missing = api.call("GET", f"/v1/takedown/requests/{unknown.json()['case_id']}", "reviewer")
    assert len(found.json()["tasks"]) == 1 and missing.json()["tasks"] == []
    assert "post/nope" in missing.text
