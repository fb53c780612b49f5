"""Enrolment: exactly one face per photo, one person, consent required, no photos kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hashwall.likeness.enrol import enrol_images, enrol_photos
from hashwall.likeness.errors import EnrolmentError
from hashwall.likeness.models import FaceModels
from hashwall.likeness.templates import load_template, save_template

from .conftest import ASTRONAUT, ROCKET


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    height = max(left.shape[0], right.shape[0])
    canvas = np.zeros((height, left.shape[1] + right.shape[1], 3), dtype=np.uint8)
    canvas[: left.shape[0], : left.shape[1]] = left
    canvas[: right.shape[0], left.shape[1] :] = right
    return canvas


def test_zero_faces_refused(face_models: FaceModels) -> None:
    with pytest.raises(EnrolmentError, match=r"rocket\.jpg: no face found"):
        enrol_photos([ROCKET], face_models)


def test_several_faces_refused(face_models: FaceModels, astronaut, cameraman) -> None:
    with pytest.raises(EnrolmentError, match=r"group: 2 faces found; enrol photos that show only"):
        enrol_images([("group", side_by_side(astronaut, cameraman))], face_models)


def test_photos_of_different_people_refused(face_models: FaceModels, astronaut, cameraman) -> None:
    with pytest.raises(EnrolmentError, match="does not look like the same person"):
        enrol_images([("a", astronaut), ("b", cameraman)], face_models)


def test_consent_statement_required(face_models: FaceModels, astronaut) -> None:
    with pytest.raises(EnrolmentError, match="consent statement is required"):
        enrol_images([("a", astronaut)], face_models, "   ")


def test_unreadable_photo_is_a_clear_error(face_models: FaceModels, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(EnrolmentError, match=r"broken\.jpg"):
        enrol_photos([broken], face_models)


def test_template_holds_embeddings_consent_date_and_model_only(
    face_models: FaceModels, astronaut, tmp_path: Path
) -> None:
    mirrored = tmp_path / "mirrored.png"
    Image.fromarray(astronaut[:, ::-1]).save(mirrored)
    template = enrol_photos([ASTRONAUT, mirrored], face_models, "I consent.")
    path = tmp_path / "me.template.json"
    save_template(template, path)
    document = json.loads(path.read_text())
    assert set(document) == {
        "format",
        "version",
        "template_id",
        "created",
        "consent",
        "model",
        "embedding_dim",
        "embeddings",
    }
    assert document["consent"] == {"statement": "I consent."}
    assert document["model"]["embedder"] == face_models.embedder.model_id
    assert np.asarray(document["embeddings"]).shape == (2, 128)
    assert path.stat().st_size < 10_000  # two embeddings, no pixels
    assert path.stat().st_mode & 0o777 == 0o600
    assert np.array_equal(load_template(path).embeddings, template.embeddings)
