"""Face alignment: a similarity transform of the 5 landmarks onto the standard 112x112 template.

SFace (like ArcFace) was trained on faces warped this way, so the embedding is only meaningful for
crops aligned the same way. A similarity transform (rotation, uniform scale, translation) keeps the
face's proportions, which carry identity, while removing in-plane rotation and scale.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from hashwall.likeness.models.interfaces import DetectedFace, RGBImage

ALIGNED_SIZE = 112
# Landmark positions of the ArcFace/SFace 112x112 template, in YuNet's landmark order.
TEMPLATE_LANDMARKS = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def similarity_matrix(landmarks: NDArray[np.float32]) -> NDArray[np.float64]:
    """2x3 matrix mapping ``landmarks`` onto the template (least squares over all 5 points).

    A huge RANSAC threshold keeps every point an inlier, so the Levenberg-Marquardt refinement that
    follows fits all five; a degenerate fit (e.g. collapsed landmarks) falls back to a plain scale.
    """
    matrix, _ = cv2.estimateAffinePartial2D(
        landmarks.astype(np.float32),
        TEMPLATE_LANDMARKS,
        method=cv2.RANSAC,
        ransacReprojThreshold=1e4,
        refineIters=20,
    )
    if matrix is None or not np.all(np.isfinite(matrix)):
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return np.asarray(matrix, dtype=np.float64)


def align_face(image: RGBImage, face: DetectedFace) -> RGBImage:
    """The 112x112 RGB crop of ``face``, warped onto the template."""
    matrix = similarity_matrix(face.landmarks)
    aligned = cv2.warpAffine(
        image,
        matrix,
        (ALIGNED_SIZE, ALIGNED_SIZE),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
    return np.ascontiguousarray(aligned, dtype=np.uint8)
