"""The small interface every signal type implements: validate a value, compare two values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


class InvalidSignalValue(ValueError):
    """A hash string that is not a valid value of its signal type; the message says why."""

    def __init__(self, signal: str, value: object, problem: str) -> None:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        self.signal = signal
        self.problem = problem
        super().__init__(f"invalid {signal} value {shown}: {problem}")


@dataclass(frozen=True)
class SignalComparison:
    """The outcome of comparing two values of one signal type at that signal's thresholds."""

    signal: str
    is_match: bool
    distance: int | None = None
    query_match_percent: float | None = None
    compared_match_percent: float | None = None
    note: str = ""


class SignalType(ABC):
    """One kind of fingerprint (python-threatexchange calls these signal types)."""

    name: ClassVar[str]
    #: Which content types produce this signal: "photo", "video" or both.
    content_types: ClassVar[frozenset[str]]
    description: ClassVar[str]

    @abstractmethod
    def validate(self, value: str) -> str:
        """Return the canonical form of ``value`` or raise :class:`InvalidSignalValue`."""

    @abstractmethod
    def compare(self, a: str, b: str) -> SignalComparison:
        """Compare two (valid) values at this signal's default thresholds."""

    def is_valid(self, value: str) -> bool:
        try:
            self.validate(value)
        except InvalidSignalValue:
            return False
        return True
