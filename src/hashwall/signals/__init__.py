"""Signal types: what hashwall extracts from content and how two values are compared.

Names follow python-threatexchange (``pdq``, ``vpdq``, ``md5``, ``sha256``). Each signal lives
in one module that defines a module-level ``SIGNAL``; :mod:`hashwall.signals.registry` discovers
them, so adding a signal is adding one file.
"""

from hashwall.signals.base import InvalidSignalValue, SignalComparison, SignalType
from hashwall.signals.registry import all_signals, get_signal

__all__ = ["InvalidSignalValue", "SignalComparison", "SignalType", "all_signals", "get_signal"]
