"""What one worker holds for likeness protection: templates in memory, models, rate limit.

Models load lazily (first screening request), through providers that tests replace with
doubles (``classifier``, ``face_models``), so the positive screening path is tested without any
intimate content. ``available()`` tells whether the likeness extra is installed; without it
the likeness endpoints answer 503 and the rest of the service works as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hashwall.service.errors import ApiError
from hashwall.service.likeness.cache import TemplateCache
from hashwall.service.likeness.keys import LikenessKeyError, service_keyring
from hashwall.service.likeness.ratelimit import RateLimiter
from hashwall.store import Database
from hashwall.store.likeness_models import LikenessTemplate

if TYPE_CHECKING:
    from hashwall.likeness.models import FaceModels, IntimateClassifier
    from hashwall.service.settings import Settings

#: Python modules the likeness extra provides: AES-GCM, and the model runtimes.
CRYPTO_MODULES = ("cryptography",)
MODEL_MODULES = ("cryptography", "onnxruntime", "cv2")


def missing_modules(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if find_spec(name) is None]


def _default_classifier() -> IntimateClassifier:
    from hashwall.likeness.models import default_intimate_classifier

    return default_intimate_classifier()


def _default_face_models() -> FaceModels:
    from hashwall.likeness.models import default_face_models

    return default_face_models()


@dataclass
class LikenessRuntime:
    settings: Settings
    cache: TemplateCache
    limiter: RateLimiter
    #: Providers of the models; replaced by doubles in tests.
    classifier: Callable[[], IntimateClassifier] = _default_classifier
    face_models: Callable[[], FaceModels] = _default_face_models
    #: Overridable for tests: which modules are missing.
    missing: Callable[[tuple[str, ...]], list[str]] = field(default=missing_modules)

    @classmethod
    def open(cls, settings: Settings, session: Session) -> LikenessRuntime:
        keys = service_keyring(settings)
        if (
            keys is None
            and session.scalars(
                select(LikenessTemplate.id).where(LikenessTemplate.ciphertext.is_not(None))
            ).first()
        ):
            raise LikenessKeyError(
                "HASHWALL_ENV=production, the database holds likeness templates, but "
                "HASHWALL_LIKENESS_KEY is not set; set it to the key they were stored under"
            )
        runtime = cls(
            settings,
            TemplateCache(keys),
            RateLimiter(settings.likeness_rate_limit, settings.likeness_rate_window_seconds),
        )
        if runtime.ready(CRYPTO_MODULES):
            runtime.cache.load_all(session)
        return runtime

    def ready(self, modules: tuple[str, ...]) -> bool:
        return self.cache.key is not None and not self.missing(modules)

    def require(self, modules: tuple[str, ...]) -> None:
        """503 naming the missing modules when the likeness extra is not installed, or
        when production runs without ``HASHWALL_LIKENESS_KEY``."""
        if self.cache.key is None:
            raise ApiError(
                503, "likeness protection is off: HASHWALL_LIKENESS_KEY is not set", None
            )
        missing = self.missing(modules)
        if missing:
            raise ApiError(
                503,
                "likeness protection is not installed on this server "
                f"(missing: {', '.join(missing)}; pip install 'hashwall[likeness]')",
                None,
            )

    def sync_entries(self, db: Database, entry_ids: list[int]) -> None:
        if self.ready(CRYPTO_MODULES):
            self.cache.sync_entries(db, entry_ids)
