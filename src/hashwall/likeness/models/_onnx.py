"""One place that runs ONNX graphs: onnxruntime on the CPU, quiet, one input, one output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashwall.likeness.errors import ModelError
from hashwall.likeness.models._graph import GraphRewrite
from hashwall.likeness.models._protobuf import keep_first_graph_input

# One thread per model: images are small (112 px, 224 px) so intra-op parallelism gains little,
# and on a loaded machine a second spinning thread made Open-NSFW slower (57-90 ms vs 34 ms on the
# shared 2-core box). Throughput comes from screening several files in parallel instead.
DEFAULT_THREADS = 1
_CPU = ["CPUExecutionProvider"]


class OnnxModel:
    """A single-input, single-output ONNX graph on onnxruntime's CPU provider.

    Warnings are silenced: onnxruntime reports export quirks of the pinned files on every load,
    which are harmless and would drown real errors on stderr. The thread count is bounded and idle
    threads do not spin, so screening workers on a shared machine do not oversubscribe it.

    ``weights_as_graph_inputs``: for exports that list their weights as graph inputs (the int8
    SFace file). Only the first input is kept (see :mod:`._protobuf`) and QDQ handling is turned
    off so onnxruntime folds the weight dequantization into constants once, at load time, instead
    of on every call (the convolutions run in float32 either way; outputs agree to 2e-6).

    ``rewrites``: functions from :mod:`._graph` applied to the file's bytes before loading, which
    replace operators onnxruntime runs slowly by equivalent ones it fuses.
    """

    def __init__(
        self,
        path: Path,
        threads: int = DEFAULT_THREADS,
        *,
        weights_as_graph_inputs: bool = False,
        rewrites: tuple[GraphRewrite, ...] = (),
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(
                "onnxruntime is not installed; pip install 'hashwall[likeness]'"
            ) from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            model: str | bytes = str(path)
            if weights_as_graph_inputs or rewrites:
                data = path.read_bytes()
                if weights_as_graph_inputs:
                    data = keep_first_graph_input(data)
                    options.add_session_config_entry("session.disable_quant_qdq", "1")
                for rewrite in rewrites:
                    data = rewrite(data)
                model = data
            self._session: Any = ort.InferenceSession(model, options, providers=_CPU)
        except Exception as error:  # onnxruntime raises its own untyped exception classes
            raise ModelError(f"cannot load model {path.name}: {error}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"model {path.name} takes {len(inputs)} inputs; expected one image")
        self._input = inputs[0].name

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """The graph's first output for ``batch``."""
        feed = {self._input: np.ascontiguousarray(batch, dtype=np.float32)}
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
