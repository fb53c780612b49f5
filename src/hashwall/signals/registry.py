"""Find every signal module in this package: a new signal is one new file with a ``SIGNAL``."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hashwall.signals.base import SignalType


@cache
def _discover() -> dict[str, SignalType]:
    import hashwall.signals as package

    found: dict[str, SignalType] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        signal = getattr(module, "SIGNAL", None)
        if isinstance(signal, SignalType):
            found[signal.name] = signal
    return dict(sorted(found.items()))


def all_signals() -> dict[str, SignalType]:
    """Every available signal type by name."""
    return dict(_discover())


def get_signal(name: str) -> SignalType:
    """The signal type called ``name``, or a ValueError listing the known ones."""
    signals = _discover()
    try:
        return signals[name.strip().lower()]
    except KeyError:
        known = ", ".join(signals)
        raise ValueError(f"unknown signal type {name!r}; known types: {known}") from None
