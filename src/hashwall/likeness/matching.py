"""Comparing face embeddings with enrolled templates: cosine similarity against a threshold.

Embeddings are L2-normalised, so cosine similarity is a dot product. A query face is compared with
every embedding of every template and a template's score is its best embedding (enrolling several
photos covers poses and lighting; one good agreement is the evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Chosen with benchmarks/likeness_bench.py (figures in docs/likeness.md): the lowest round value
# whose measured false-accept rate is <= 0.1 % (3 of 5,078 different-person pairs, 0.06 %; the
# 0.1 % point is 0.391), while every transformed copy of an enrolled face whose face was detected
# still scored >= 0.47. OpenCV Zoo's own SFace cosine threshold is 0.363; we are stricter because a
# false match puts a stranger's intimate image before a reviewer under someone else's name.
DEFAULT_THRESHOLD = 0.40


@dataclass(frozen=True)
class TemplateScore:
    """Best similarity of one query face to one template."""

    template_index: int
    similarity: float


def cosine_similarities(
    query: NDArray[np.float32], matrix: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Cosine similarity of ``query`` (d,) with every row of ``matrix`` (n, d); both normalised."""
    return np.asarray(matrix @ query, dtype=np.float32)


def best_scores(
    query: NDArray[np.float32], templates: Sequence[NDArray[np.float32]]
) -> list[TemplateScore]:
    """For each template (an (n, d) array of embeddings), the best similarity to ``query``."""
    return [
        TemplateScore(index, float(cosine_similarities(query, embeddings).max()))
        for index, embeddings in enumerate(templates)
        if len(embeddings)
    ]


def matches(
    query: NDArray[np.float32],
    templates: Sequence[NDArray[np.float32]],
    threshold: float = DEFAULT_THRESHOLD,
) -> list[TemplateScore]:
    """Templates whose best similarity reaches ``threshold``, most similar first."""
    hits = [score for score in best_scores(query, templates) if score.similarity >= threshold]
    return sorted(hits, key=lambda score: score.similarity, reverse=True)
