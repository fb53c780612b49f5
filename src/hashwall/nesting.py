"""Depth limits for JSON and YAML that strangers send (public routes, uploaded case files).

Why: Python's JSON and YAML parsers recurse once per level of nesting, so ``'[' * 50000``
ends in a ``RecursionError`` - a 500 with a text/plain body - and anything that survives the
parser may still blow the stack in validation. No legitimate hashwall document is more than a
few levels deep, so a document nested deeper than :data:`MAX_DEPTH` is refused *before* it is
parsed, in linear time, with a plain reason. This module imports nothing of hashwall's: every
layer may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: Deepest nesting of arrays/objects (JSON) or sequences/mappings (YAML) accepted.
MAX_DEPTH = 64

# A JSON string (skipped whole, so brackets inside strings do not count) or one bracket.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class TooDeep(ValueError):
    """The document nests deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the document is nested more than {limit} levels deep")
        self.limit = limit


def check_json_depth(raw: bytes | str, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when the JSON text opens more than ``limit`` levels at once.

    Malformed text is not judged here (the parser reports it); only the bracket depth is.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = 0
    for token in _JSON_TOKENS.finditer(data):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise TooDeep(limit)
        elif char in (b"]", b"}"):
            depth -= 1


def loads_json(raw: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """``json.loads`` after the depth check (:class:`TooDeep` or ``ValueError`` when bad)."""
    check_json_depth(raw, limit)
    return json.loads(raw)


def check_yaml_depth(events: Iterable[Any], limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when PyYAML's event stream nests deeper than ``limit``.

    PyYAML's parser is a state machine (it does not recurse); its composer does, so the
    events are checked before ``safe_load`` builds anything.
    """
    depth = 0
    for event in events:
        name = type(event).__name__
        if name in ("SequenceStartEvent", "MappingStartEvent"):
            depth += 1
            if depth > limit:
                raise TooDeep(limit)
        elif name in ("SequenceEndEvent", "MappingEndEvent"):
            depth -= 1
