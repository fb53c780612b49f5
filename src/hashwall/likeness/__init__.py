"""Likeness protection: catch new sexual deepfakes of people who enrolled their own face.

A person enrols photos of themselves on their own device; only a template (face embeddings, the
model id, their consent statement and a date) is kept, never the photos. Screening scores content
for intimacy first and only then looks for faces, so faces in ordinary content are never detected,
compared or stored (purpose limitation).

This package imports no ML libraries at import time: OpenCV and onnxruntime load lazily, once per
process, in :mod:`hashwall.likeness.models`, so ``hashwall hash`` stays light.
"""

from hashwall.likeness.errors import EnrolmentError, LikenessError, ModelError, TemplateError

__all__ = ["EnrolmentError", "LikenessError", "ModelError", "TemplateError"]
