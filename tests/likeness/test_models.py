"""The default models load from the pinned wheels and behave sanely on public-domain faces."""

from __future__ import annotations

import numpy as np

from hashwall.likeness.models import FaceModels, default_intimate_classifier
from hashwall.likeness.models.align import TEMPLATE_LANDMARKS, align_face, similarity_matrix
from hashwall.likeness.models.resources import SFACE, YUNET

from .conftest import ROCKET, load_rgb


def test_one_face_with_landmarks_inside_the_box(face_models: FaceModels, astronaut) -> None:
    faces = face_models.detector.detect(astronaut)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x < 220 and 40 < y < 100 and 60 < w < 130
    lm = faces[0].landmarks
    assert np.all((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h))
    assert lm[0, 0] < lm[1, 0]  # image-left eye first, as the alignment template expects


def test_no_face_in_a_rocket(face_models: FaceModels) -> None:
    assert face_models.detector.detect(load_rgb(ROCKET)) == []


def test_embeddings_are_unit_vectors(face_models: FaceModels, astronaut) -> None:
    face = face_models.detector.detect(astronaut)[0]
    embedding = face_models.embedder.embed(astronaut, face)
    assert embedding.shape == (128,) and embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5
    assert face_models.embedder.model_id == SFACE.model_id
    assert face_models.detector.model_id == YUNET.model_id


def test_alignment_maps_landmarks_onto_the_template(face_models: FaceModels, astronaut) -> None:
    face = face_models.detector.detect(astronaut)[0]
    matrix = similarity_matrix(face.landmarks)
    mapped = face.landmarks @ matrix[:, :2].T + matrix[:, 2]
    assert np.abs(mapped - TEMPLATE_LANDMARKS).max() < 6.0
    assert align_face(astronaut, face).shape == (112, 112, 3)


def test_ordinary_photos_score_low(astronaut) -> None:
    classifier = default_intimate_classifier()
    assert classifier.score(astronaut) < 0.2
    assert classifier.score(load_rgb(ROCKET)) < 0.2
