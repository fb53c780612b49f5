"""Screening: enrolled face found in transformed copies, others not; purpose limitation."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageEnhance

from hashwall.likeness.matching import DEFAULT_THRESHOLD
from hashwall.likeness.models import FaceModels
from hashwall.likeness.screen import Screener
from hashwall.likeness.templates import Template

from .conftest import ASTRONAUT, FixedScore, SpyDetector

Image8 = NDArray[np.uint8]


def jpeg(quality: int) -> Callable[[Image8], Image8]:
    def apply(rgb: Image8) -> Image8:
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))

    return apply


def resize(factor: float) -> Callable[[Image8], Image8]:
    def apply(rgb: Image8) -> Image8:
        h, w = rgb.shape[:2]
        return np.asarray(Image.fromarray(rgb).resize((int(w * factor), int(h * factor))))

    return apply


def rotate(degrees: float) -> Callable[[Image8], Image8]:
    def apply(rgb: Image8) -> Image8:
        h, w = rgb.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
        return cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)

    return apply


def brightness(factor: float) -> Callable[[Image8], Image8]:
    def apply(rgb: Image8) -> Image8:
        return np.asarray(ImageEnhance.Brightness(Image.fromarray(rgb)).enhance(factor))

    return apply


TRANSFORMS: dict[str, Callable[[Image8], Image8]] = {
    "jpeg_q30": jpeg(30),
    "resize_0.5": resize(0.5),
    "crop": lambda rgb: rgb[20:360, 90:430].copy(),
    "flip": lambda rgb: rgb[:, ::-1].copy(),
    "rotate_+15": rotate(15),
    "rotate_-15": rotate(-15),
    "brighter_1.4": brightness(1.4),
    "darker_0.6": brightness(0.6),
}


def positive_screener(templates: list[Template], face_models: FaceModels) -> Screener:
    return Screener(templates, classifier=FixedScore(0.99), face_models=face_models)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_enrolled_face_found_in_transformed_copy(
    name: str, astronaut: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    result = positive_screener([astronaut_template], face_models).screen_image(
        TRANSFORMS[name](astronaut)
    )
    assert result.intimate
    assert [m.template_id for m in result.matches] == [astronaut_template.template_id]
    assert result.matches[0].similarity >= DEFAULT_THRESHOLD


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_sideways_and_upside_down_copies_are_found(
    quarters: int, astronaut: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    turned = np.ascontiguousarray(np.rot90(astronaut, quarters))
    (match,) = positive_screener([astronaut_template], face_models).screen_image(turned).matches
    assert match.template_id == astronaut_template.template_id
    assert match.rotation in (90, 180, 270)
    assert match.to_json()["rotation"] == match.rotation


def test_another_face_is_not_matched(
    cameraman: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    result = positive_screener([astronaut_template], face_models).screen_image(cameraman)
    assert result.faces_compared == 1
    assert result.matches == []


def test_right_template_among_several(
    astronaut: Image8,
    cameraman: Image8,
    astronaut_template: Template,
    cameraman_template: Template,
    face_models: FaceModels,
) -> None:
    screener = positive_screener([cameraman_template, astronaut_template], face_models)
    found = screener.screen_image(astronaut).matches
    assert [m.template_id for m in found] == [astronaut_template.template_id]
    found = screener.screen_image(cameraman).matches
    assert [m.template_id for m in found] == [cameraman_template.template_id]


def test_non_intimate_image_is_not_flagged_and_no_face_is_detected(
    astronaut: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    spy = SpyDetector(face_models.detector)
    factory_calls: list[int] = []

    def factory() -> FaceModels:
        factory_calls.append(1)
        return FaceModels(spy, face_models.embedder)

    # The real intimate classifier on a non-intimate photo that shows the enrolled face.
    screener = Screener([astronaut_template], face_models=factory)
    result = screener.screen_image(astronaut)
    assert not result.intimate and result.intimate_score < screener.intimate_threshold
    assert result.matches == [] and result.faces_compared == 0
    assert spy.calls == 0 and factory_calls == []


def test_below_threshold_double_never_touches_the_detector(
    astronaut: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    spy = SpyDetector(face_models.detector)
    classifier = FixedScore(0.49)
    screener = Screener(
        [astronaut_template],
        classifier=classifier,
        face_models=FaceModels(spy, face_models.embedder),
        intimate_threshold=0.5,
    )
    assert screener.screen_image(astronaut).matches == []
    assert classifier.calls == 1 and spy.calls == 0
    classifier.value = 0.5
    assert len(screener.screen_image(astronaut).matches) == 1
    assert spy.calls == 1


def test_video_frames_are_screened(
    tmp_path: Path, astronaut: Image8, astronaut_template: Template, face_models: FaceModels
) -> None:
    import av

    video = tmp_path / "clip.mp4"
    frame_rgb = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
    with av.open(str(video), "w") as container:
        stream = container.add_stream("mpeg4", rate=2)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        for _ in range(4):
            frame = av.VideoFrame.from_ndarray(frame_rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    kind, result = positive_screener([astronaut_template], face_models).screen_path(video)
    assert str(kind) == "video"
    assert result.frames_screened == 2  # one sample per second of a 2-second clip
    assert result.matches and result.matches[0].timestamp is not None


def test_photo_path(astronaut_template: Template, face_models: FaceModels) -> None:
    kind, result = positive_screener([astronaut_template], face_models).screen_path(ASTRONAUT)
    assert str(kind) == "photo" and len(result.matches) == 1
    assert "embedding" not in str(result.to_json())
