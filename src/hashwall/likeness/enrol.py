"""Enrolment: photos of one consenting person -> a template. The photos themselves are not kept.

Each photo must show exactly one face: a group photo would let someone enrol (and so watch for) a
person who did not consent. Photos must also agree with each other, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hashwall.likeness.errors import EnrolmentError
from hashwall.likeness.matching import DEFAULT_THRESHOLD
from hashwall.likeness.models import Embedding, FaceModels, RGBImage
from hashwall.likeness.templates import Template
from hashwall.media import MediaError, load_photo

DEFAULT_CONSENT = (
    "I am the person shown in these photos. I consent to hashwall using this face template only "
    "to find intimate images of me shared without my consent, and I can revoke it at any time."
)


def embed_single_face(name: str, image: RGBImage, models: FaceModels) -> Embedding:
    """The embedding of the only face in ``image``; :class:`EnrolmentError` if not exactly one."""
    faces = models.detector.detect(image)
    if not faces:
        raise EnrolmentError(
            f"{name}: no face found; use a clear, well-lit photo showing your whole face"
        )
    if len(faces) > 1:
        raise EnrolmentError(f"{name}: {len(faces)} faces found; enrol photos that show only you")
    return models.embedder.embed(image, faces[0])


def enrol_images(
    images: Sequence[tuple[str, RGBImage]],
    models: FaceModels,
    consent_statement: str = DEFAULT_CONSENT,
    *,
    same_person_threshold: float = DEFAULT_THRESHOLD,
) -> Template:
    """A template from named RGB images of one person (one face each, all the same person)."""
    if not images:
        raise EnrolmentError("no photos given; enrol at least one photo of yourself")
    statement = consent_statement.strip()
    if not statement:
        raise EnrolmentError("a consent statement is required to enrol")
    embeddings = np.stack([embed_single_face(name, image, models) for name, image in images])
    _check_same_person([name for name, _ in images], embeddings, same_person_threshold)
    return Template.new(embeddings, models.embedder.model_id, statement, models.detector.model_id)


def enrol_photos(
    paths: Sequence[Path], models: FaceModels, consent_statement: str = DEFAULT_CONSENT
) -> Template:
    """A template from photo files (decoded with EXIF orientation applied)."""
    images = []
    for path in paths:
        try:
            images.append((str(path), load_photo(path).rgb))
        except MediaError as error:
            raise EnrolmentError(str(error)) from None
    return enrol_images(images, models, consent_statement)


def _check_same_person(names: list[str], embeddings: np.ndarray, threshold: float) -> None:
    """Every photo must match at least one other photo; otherwise they may be different people."""
    if len(names) < 2:
        return
    similarity = embeddings @ embeddings.T
    np.fill_diagonal(similarity, -1.0)
    for index, name in enumerate(names):
        if similarity[index].max() < threshold:
            raise EnrolmentError(
                f"{name}: does not look like the same person as the other photos "
                f"(best similarity {similarity[index].max():.2f} < {threshold:.2f}); "
                "enrol only photos of yourself"
            )
