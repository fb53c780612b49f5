"""One place that runs ONNX graphs: onnxruntime on the CPU, quiet, one input, one output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashwall.likeness.errors import ModelError

DEFAULT_THREADS = 2
_CPU = ["CPUExecutionProvider"]


class OnnxModel:
    """A single-input, single-output ONNX graph on onnxruntime's CPU provider.

    Warnings are silenced because the SFace export lists its initializers as graph inputs, which
    onnxruntime reports on every load; they are harmless and would drown real errors on stderr.
    The thread count is bounded so screening workers on a shared machine do not oversubscribe it.

    ``fill_extra_inputs``: the int8 SFace file still declares its 29 original float weight tensors
    as graph inputs although no node reads them (the graph uses dequantized copies), and
    onnxruntime will not run until they are provided. They are bound once as zero initializers
    (``np.zeros`` pages are never touched and onnxruntime drops unused initializers, so they cost
    no memory) and inference goes through an I/O binding, which feeds only the real input. The
    file's digest is pinned, so this only ever applies to that exact graph.
    """

    def __init__(
        self, path: Path, threads: int = DEFAULT_THREADS, *, fill_extra_inputs: bool = False
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError(
                "onnxruntime is not installed; pip install 'hashwall[likeness]'"
            ) from None
        self._keep_alive: list[Any] = []
        try:
            session = ort.InferenceSession(str(path), _options(ort, threads), providers=_CPU)
            extra = session.get_inputs()[1:]
            if extra and fill_extra_inputs:
                options = _options(ort, threads)
                for tensor in extra:
                    zeros = np.zeros(tensor.shape, dtype=np.float32)
                    value = ort.OrtValue.ortvalue_from_numpy(zeros)
                    options.add_initializer(tensor.name, value)
                    self._keep_alive.append((zeros, value))  # must outlive the session
                session = ort.InferenceSession(str(path), options, providers=_CPU)
        except Exception as error:  # onnxruntime raises its own untyped exception classes
            raise ModelError(f"cannot load model {path.name}: {error}") from None
        self._session = session
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name

    def run(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """The graph's output for ``batch`` (a contiguous float32 array)."""
        binding = self._session.io_binding()
        binding.bind_cpu_input(self._input, np.ascontiguousarray(batch, dtype=np.float32))
        binding.bind_output(self._output)
        self._session.run_with_iobinding(binding)
        return np.asarray(binding.copy_outputs_to_cpu()[0], dtype=np.float32)


def _options(ort: Any, threads: int) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    return options
