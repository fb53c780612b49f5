"""Face detection with OpenCV Zoo's YuNet (int8, 5 landmarks) through OpenCV's FaceDetectorYN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from hashwall.likeness.models.interfaces import DetectedFace, RGBImage
from hashwall.likeness.models.resources import YUNET, locate

# Faces are searched on a copy whose longer side is at most this; landmarks are scaled back and
# the face is embedded from the full-resolution image. Detection cost grows with the pixel count
# (1 MP photo, CPU ms on the dev box: 17 at 320 px, 32 at 480 px, 56 at 640 px). YuNet finds faces
# down to ~10 px, so at 480 px a face 1/25 of the photo's width is still found, and smaller faces
# carry too little detail for SFace to identify reliably anyway.
DETECTION_MAX_SIDE = 480
CONFIDENCE_THRESHOLD = 0.7
NMS_THRESHOLD = 0.3


class YuNetDetector:
    """:class:`~hashwall.likeness.models.interfaces.FaceDetector` backed by YuNet."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        confidence_threshold: float = CONFIDENCE_THRESHOLD,
        max_side: int = DETECTION_MAX_SIDE,
    ) -> None:
        path = model_path if model_path is not None else locate(YUNET)
        self.model_id = YUNET.model_id if model_path is None else path.stem
        self._max_side = max_side
        previous = cv2.utils.logging.getLogLevel()
        # OpenCV 5 warns that its new graph engine ignores targets; nothing to act on.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), confidence_threshold, NMS_THRESHOLD, 5000
            )
        finally:
            cv2.utils.logging.setLogLevel(previous)

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        """Faces in ``image``, highest confidence first, in the image's own pixel coordinates."""
        height, width = image.shape[:2]
        scale = min(1.0, self._max_side / max(height, width))
        small: NDArray[np.integer[Any] | np.floating[Any]] = image
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # Channel swap after the resize: same pixels, a fraction of the work on large photos.
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, rows = self._net.detect(bgr)
        if rows is None:
            return []
        faces = []
        for row in np.asarray(rows, dtype=np.float32):
            coords = row[:14] / scale
            box = (float(coords[0]), float(coords[1]), float(coords[2]), float(coords[3]))
            landmarks = coords[4:14].reshape(5, 2).astype(np.float32)
            faces.append(DetectedFace(box, landmarks, float(row[14])))
        faces.sort(key=lambda face: face.confidence, reverse=True)
        return faces
