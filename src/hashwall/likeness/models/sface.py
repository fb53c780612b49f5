"""Face embeddings with OpenCV Zoo's SFace (int8, 128-d) run on onnxruntime.

OpenCV 5.0's ``FaceRecognizerSF.feature()`` fails an assertion on the int8 SFace file, so the
network runs on onnxruntime and only the alignment uses OpenCV. Its PRelu activations are rewritten
at load into operators onnxruntime fuses with the convolutions (:mod:`._graph`): about half the
cost per face, same embeddings to ~1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hashwall.likeness.models._graph import prelu_as_relu_mix
from hashwall.likeness.models._onnx import DEFAULT_THREADS, OnnxModel
from hashwall.likeness.models.align import align_face
from hashwall.likeness.models.interfaces import DetectedFace, Embedding, RGBImage
from hashwall.likeness.models.resources import SFACE, locate

EMBEDDING_SIZE = 128


class SFaceEmbedder:
    """:class:`~hashwall.likeness.models.interfaces.FaceEmbedder` backed by SFace.

    ``optimise_graph=False`` runs the file's graph as shipped (the benchmark's baseline).
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int = DEFAULT_THREADS,
        optimise_graph: bool = True,
    ) -> None:
        path = model_path if model_path is not None else locate(SFACE)
        self.model_id = SFACE.model_id if model_path is None else path.stem
        rewrites = (prelu_as_relu_mix,) if optimise_graph else ()
        self._net = OnnxModel(path, threads, weights_as_graph_inputs=True, rewrites=rewrites)

    def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
        """L2-normalised 128-d embedding of the aligned face.

        The network takes RGB pixel values 0-255 in NCHW order, as OpenCV's own
        ``FaceRecognizerSF`` feeds it (``blobFromImage`` with ``swapRB=True`` on a BGR crop).
        """
        aligned = align_face(image, face)
        blob = aligned.astype(np.float32).transpose(2, 0, 1)[np.newaxis]
        vector = self._net.run(blob).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if norm == 0.0 or not np.isfinite(norm):
            return np.zeros(EMBEDDING_SIZE, dtype=np.float32)
        return (vector / norm).astype(np.float32)
