"""Just enough protobuf to edit ONNX files at load time, without the onnx package.

Used to drop stray graph inputs (below) and by :mod:`._graph` to rewrite slow operators.

The int8 SFace export lists all its weights as graph inputs (145 initializers plus 29 float
tensors no node reads). onnxruntime then (a) refuses to run until those 29 are fed and (b) treats
the listed initializers as overridable, so it cannot constant-fold their DequantizeLinear nodes and
re-dequantizes ~9.6 M weights on every call (34 of 74 ms per face). Keeping only the first graph
input (the image) fixes both. ``ModelProto.graph`` is field 7 and ``GraphProto.input`` field 11;
every other byte is copied unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

_MODEL_GRAPH = 7
_GRAPH_INPUT = 11
LENGTH_DELIMITED = 2


def _varint(buffer: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(buffer):
            raise ValueError("truncated varint")
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, bytes, sub-messages)."""
    return _encode_varint((number << 3) | LENGTH_DELIMITED) + _encode_varint(len(payload)) + payload


def fields(buffer: bytes) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, start of field, start of payload, end) for each field.

    For varint fields the payload is the varint itself (decode it with :func:`read_varint`).
    """
    position = 0
    while position < len(buffer):
        start = position
        key, position = _varint(buffer, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            payload = position
            _, position = _varint(buffer, position)
        elif wire == 1:
            payload, position = position, position + 8
        elif wire == LENGTH_DELIMITED:
            length, payload = _varint(buffer, position)
            position = payload + length
        elif wire == 5:
            payload, position = position, position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if position > len(buffer):
            raise ValueError("truncated protobuf field")
        yield number, wire, start, payload, position


def read_varint(buffer: bytes, position: int) -> int:
    """The varint starting at ``position``."""
    return _varint(buffer, position)[0]


def map_graph(model: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """``model`` (a serialized ONNX ModelProto) with its graph replaced by ``edit(graph)``."""
    out = bytearray()
    for number, wire, start, payload, end in fields(model):
        if number != _MODEL_GRAPH or wire != LENGTH_DELIMITED:
            out += model[start:end]
            continue
        out += encode_field(number, edit(model[payload:end]))
    return bytes(out)


def _first_input_only(graph: bytes) -> bytes:
    kept = bytearray()
    seen_input = False
    for number, _, start, _, end in fields(graph):
        if number == _GRAPH_INPUT:
            if seen_input:
                continue
            seen_input = True
        kept += graph[start:end]
    return bytes(kept)


def keep_first_graph_input(model: bytes) -> bytes:
    """``model`` (a serialized ONNX ModelProto) with every graph input but the first removed."""
    return map_graph(model, _first_input_only)
