"""Helpers for the likeness API tests: the enrolled astronaut (NASA, public domain) and
consent forms. Never intimate content: the intimate classifier is a test double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from hashwall.likeness.enrol import enrol_images
from hashwall.likeness.models import default_face_models
from hashwall.likeness.templates import Template
from hashwall.service.likeness.consent import PURPOSE

REPO_ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = REPO_ROOT / "samples" / "known" / "astronaut.jpg"  # NASA, public domain
ROCKET = REPO_ROOT / "samples" / "known" / "rocket.jpg"  # no face
CAMERAMAN = REPO_ROOT / "tests" / "likeness" / "data" / "cameraman.png"  # CC0


@cache
def _embeddings(path: Path) -> Any:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return enrol_images([(path.name, rgb)], default_face_models())


def astronaut_template() -> Template:
    """A fresh template (new random id) of the astronaut's face."""
    base = _embeddings(ASTRONAUT)
    return Template.new(base.embeddings, base.model_id, base.consent_statement, base.detector_id)


def cameraman_template() -> Template:
    base = _embeddings(CAMERAMAN)
    return Template.new(base.embeddings, base.model_id, base.consent_statement, base.detector_id)


def consent_form(**change: Any) -> dict[str, str]:
    form: dict[str, Any] = {
        "consent_subject": "Ada Example",
        "consent_statement": "I consent to my face template being used to find intimate "
        "images of me on this platform.",
        "consent_purpose": PURPOSE,
        "consent_given_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "consent_verification": "video call with ID check by trust & safety, ticket 123",
    }
    form.update(change)
    return {k: v for k, v in form.items() if v is not None}


def upload(api: Any, data: bytes, role: str = "likeness", **change: Any) -> Any:
    files = {"file": ("me.template.json", data, "application/json")}
    return api.call(
        "POST", "/v1/likeness/templates", role, data=consent_form(**change), files=files
    )
