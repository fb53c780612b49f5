"""The ONNX graph-input rewrite keeps every byte except the extra graph inputs."""

from __future__ import annotations

import pytest

from hashwall.likeness.models._protobuf import _encode_varint, keep_first_graph_input
from hashwall.likeness.models.resources import SFACE, locate


def field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(payload)) + payload


def value_info(name: str) -> bytes:
    return field(1, name.encode())


def test_only_the_first_graph_input_survives() -> None:
    node = field(1, b"node-bytes" * 20)
    graph = node + field(11, value_info("data")) + field(5, b"init") + field(11, value_info("w"))
    model = _encode_varint(1 << 3) + b"\x06" + field(7, graph) + field(8, b"opset")
    expected_graph = node + field(11, value_info("data")) + field(5, b"init")
    expected = _encode_varint(1 << 3) + b"\x06" + field(7, expected_graph) + field(8, b"opset")
    assert keep_first_graph_input(model) == expected


def test_truncated_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="truncated"):
        keep_first_graph_input(field(7, b"x" * 10)[:-3])


def test_sface_file_loses_exactly_its_stray_inputs() -> None:
    original = locate(SFACE).read_bytes()
    rewritten = keep_first_graph_input(original)
    assert 0 < len(original) - len(rewritten) < 20_000  # 174 small ValueInfo entries
