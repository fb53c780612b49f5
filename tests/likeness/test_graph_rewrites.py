"""Load-time graph rewrites: the slow operators are gone and the outputs are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from hashwall.likeness.models import FaceModels
from hashwall.likeness.models._graph import op_types, prelu_as_relu_mix, sub_constant_as_add
from hashwall.likeness.models._protobuf import keep_first_graph_input
from hashwall.likeness.models.open_nsfw import OpenNsfwClassifier
from hashwall.likeness.models.resources import OPEN_NSFW, SFACE, locate
from hashwall.likeness.models.sface import SFaceEmbedder

from .conftest import ROCKET, load_rgb


def test_prelu_rewrite_replaces_every_prelu() -> None:
    original = keep_first_graph_input(locate(SFACE).read_bytes())
    before = list(op_types(original))
    after = list(op_types(prelu_as_relu_mix(original)))
    assert before.count("PRelu") == 27
    assert "PRelu" not in after
    assert after.count("Relu") == before.count("Relu") + 27
    assert after.count("Conv") == before.count("Conv")


def test_sub_rewrite_touches_only_subtractions_of_float_constants() -> None:
    original = locate(OPEN_NSFW).read_bytes()
    before = list(op_types(original))
    after = list(op_types(sub_constant_as_add(original)))
    negations = after.count("Neg") - before.count("Neg")
    assert negations > 50  # one per batch norm
    # The export's integer shape arithmetic (Sub of Gather outputs) is left alone.
    assert after.count("Sub") == before.count("Sub") - negations > 0
    assert after.count("Add") == before.count("Add") + negations


def test_a_graph_without_the_operator_is_returned_unchanged() -> None:
    original = locate(OPEN_NSFW).read_bytes()
    assert prelu_as_relu_mix(original) == original


def test_rewritten_sface_gives_the_same_embeddings(face_models: FaceModels, astronaut) -> None:
    face = face_models.detector.detect(astronaut)[0]
    shipped = SFaceEmbedder(optimise_graph=False).embed(astronaut, face)
    rewritten = SFaceEmbedder().embed(astronaut, face)
    assert np.abs(shipped - rewritten).max() < 1e-5
    assert float(shipped @ rewritten) == pytest.approx(1.0, abs=1e-6)


def test_rewritten_open_nsfw_gives_the_same_scores(astronaut) -> None:
    shipped, rewritten = OpenNsfwClassifier(optimise_graph=False), OpenNsfwClassifier()
    for image in (astronaut, load_rgb(ROCKET), astronaut[::-1].copy()):
        assert rewritten.score(image) == pytest.approx(shipped.score(image), abs=1e-5)
