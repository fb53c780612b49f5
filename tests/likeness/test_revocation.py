"""Revocation: the file is gone, the audit log says so (and nothing secret), no more matches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.models import FaceModels
from hashwall.likeness.revocation import AUDIT_LOG_NAME, revoke
from hashwall.likeness.screen import Screener
from hashwall.likeness.templates import (
    Template,
    TemplateKey,
    load_template,
    save_template,
    template_files,
)

from .conftest import FixedScore


def screen_folder(folder: Path, image, face_models: FaceModels, key=None) -> list[str]:
    templates = [load_template(path, key) for path in template_files([folder])]
    screener = Screener(templates, classifier=FixedScore(0.99), face_models=face_models)
    return [match.template_id for match in screener.screen_image(image).matches]


@pytest.mark.parametrize("encrypted", [False, True])
def test_revoked_template_no_longer_matches(
    tmp_path: Path,
    astronaut,
    astronaut_template: Template,
    face_models: FaceModels,
    encrypted: bool,
) -> None:
    key = TemplateKey.generate() if encrypted else None
    path = tmp_path / "me.template.json"
    save_template(astronaut_template, path, key)
    assert screen_folder(tmp_path, astronaut, face_models, key) == [astronaut_template.template_id]

    assert revoke(path) == astronaut_template.template_id
    assert not path.exists()
    assert screen_folder(tmp_path, astronaut, face_models, key) == []

    lines = (tmp_path / AUDIT_LOG_NAME).read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["event"] == "template_revoked"
    assert record["template_id"] == astronaut_template.template_id
    assert record["file"] == "me.template.json"
    assert set(record) == {"at", "event", "template_id", "file"}


def test_corrupt_template_is_still_revoked(tmp_path: Path) -> None:
    path = tmp_path / "bad.template.json"
    path.write_bytes(b"garbage")
    log = tmp_path / "audit.jsonl"
    assert revoke(path, log) is None
    assert not path.exists()
    assert json.loads(log.read_text())["template_id"] is None


def test_missing_template(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such template file"):
        revoke(tmp_path / "gone.template.json")
