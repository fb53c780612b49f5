"""Load-time rewrites of ONNX graphs that onnxruntime's CPU provider runs slowly, without ``onnx``.

Both rewrites replace one node by a few that compute the same values but that onnxruntime's own
optimiser can then fuse into the preceding convolution (measured with ``benchmarks/
likeness_bench.py``; figures in docs/likeness.md):

* :func:`sub_constant_as_add` -- the Open-NSFW export spells each batch norm as ``Sub(x, mean)``,
  ``Mul``, ``Add``. onnxruntime fuses ``Add`` and ``Mul`` with constants into a convolution but has
  no such rule for ``Sub``, so the chain stopped there: every layer ran four element-wise passes
  and two layout conversions. ``Sub(x, c)`` becomes ``Add(x, Neg(c))`` (``Neg`` of a constant is
  folded at load), and the whole chain folds into the convolutions: 22 -> 15 ms per image.
* :func:`prelu_as_relu_mix` -- onnxruntime's ``PRelu`` with a per-channel slope is a generic
  broadcasting loop outside its blocked (NCHWc) layout: 14 of SFace's 25 ms. ``PRelu(x, a) =
  a*x + (1-a)*Relu(x)`` uses only operations the blocked convolutions absorb: 25 -> 13 ms per
  face. Outputs agree with the original graph to ~1e-6 (float rounding order).

A rewrite only touches nodes whose constant operand is a float initializer, so it cannot change a
graph whose shape arithmetic happens to use the same operators.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from hashwall.likeness.models._protobuf import (
    LENGTH_DELIMITED,
    encode_field,
    fields,
    map_graph,
    read_varint,
)

_GRAPH_NODE = 1
_GRAPH_INITIALIZER = 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_DOMAIN = 1, 2, 3, 4, 7
_TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 2, 8, 9
_FLOAT = 1
_ONE = "hashwall_rewrite_one"

GraphRewrite = Callable[[bytes], bytes]


@dataclass(frozen=True)
class Node:
    """The parts of a NodeProto the rewrites look at; ``encoded`` is the original field."""

    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    domain: str
    encoded: bytes


def _node(encoded: bytes, payload: bytes) -> Node:
    strings: dict[int, list[str]] = {}
    for number, wire, _, start, end in fields(payload):
        if wire == LENGTH_DELIMITED and number in (
            _NODE_INPUT,
            _NODE_OUTPUT,
            _NODE_OP_TYPE,
            _NODE_DOMAIN,
        ):
            strings.setdefault(number, []).append(payload[start:end].decode())
    return Node(
        op_type=strings.get(_NODE_OP_TYPE, [""])[0],
        inputs=tuple(strings.get(_NODE_INPUT, [])),
        outputs=tuple(strings.get(_NODE_OUTPUT, [])),
        domain=strings.get(_NODE_DOMAIN, [""])[0],
        encoded=encoded,
    )


def make_node(op_type: str, inputs: tuple[str, ...], output: str) -> bytes:
    """A graph ``node`` field for a default-domain operator without attributes."""
    payload = b"".join(encode_field(_NODE_INPUT, name.encode()) for name in inputs)
    payload += encode_field(_NODE_OUTPUT, output.encode())
    payload += encode_field(_NODE_NAME, f"{output}/node".encode())
    payload += encode_field(_NODE_OP_TYPE, op_type.encode())
    return encode_field(_GRAPH_NODE, payload)


def scalar_initializer(name: str, value: float) -> bytes:
    """A graph ``initializer`` field holding one float32 scalar."""
    payload = bytes([(_TENSOR_DATA_TYPE << 3), _FLOAT])
    payload += encode_field(_TENSOR_NAME, name.encode())
    payload += encode_field(_TENSOR_RAW_DATA, struct.pack("<f", value))
    return encode_field(_GRAPH_INITIALIZER, payload)


def float_initializers(graph: bytes) -> set[str]:
    """Names of the graph's float32 initializers (weights and other constants)."""
    names = set()
    for number, _, _, start, end in fields(graph):
        if number != _GRAPH_INITIALIZER:
            continue
        tensor = graph[start:end]
        name, data_type = "", 0
        for t_number, wire, _, t_start, t_end in fields(tensor):
            if t_number == _TENSOR_NAME and wire == LENGTH_DELIMITED:
                name = tensor[t_start:t_end].decode()
            elif t_number == _TENSOR_DATA_TYPE and wire == 0:
                data_type = read_varint(tensor, t_start)
        if data_type == _FLOAT:
            names.add(name)
    return names


def _rewrite_nodes(
    graph: bytes, replace: Callable[[Node, set[str]], list[bytes] | None], extra: bytes = b""
) -> bytes:
    """``graph`` with each node replaced by ``replace(node, float constants)`` where not None.

    Replacement nodes take the original's place, so the node list stays topologically sorted.
    ``extra`` (initializer fields) is appended only when some node was replaced.
    """
    constants = float_initializers(graph)
    out, changed = bytearray(), False
    for number, _, field_start, start, end in fields(graph):
        encoded = graph[field_start:end]
        if number == _GRAPH_NODE:
            replacement = replace(_node(encoded, graph[start:end]), constants)
            if replacement is not None:
                out += b"".join(replacement)
                changed = True
                continue
        out += encoded
    return bytes(out + extra) if changed else graph


def _sub_as_add(node: Node, constants: set[str]) -> list[bytes] | None:
    if node.op_type != "Sub" or node.domain or len(node.inputs) != 2:
        return None
    value, constant = node.inputs
    if constant not in constants:
        return None
    negated = f"{node.outputs[0]}/negated"
    return [
        make_node("Neg", (constant,), negated),
        make_node("Add", (value, negated), node.outputs[0]),
    ]


def _prelu_as_mix(node: Node, constants: set[str]) -> list[bytes] | None:
    if node.op_type != "PRelu" or node.domain or len(node.inputs) != 2:
        return None
    value, slope = node.inputs
    if slope not in constants:
        return None
    out = node.outputs[0]
    return [
        make_node("Sub", (_ONE, slope), f"{out}/one_minus_slope"),
        make_node("Relu", (value,), f"{out}/relu"),
        make_node("Mul", (f"{out}/relu", f"{out}/one_minus_slope"), f"{out}/relu_part"),
        make_node("Mul", (value, slope), f"{out}/linear_part"),
        make_node("Add", (f"{out}/linear_part", f"{out}/relu_part"), out),
    ]


def sub_constant_as_add(model: bytes) -> bytes:
    """``model`` with every ``Sub(x, float constant)`` turned into ``Add(x, Neg(constant))``."""
    return map_graph(model, lambda graph: _rewrite_nodes(graph, _sub_as_add))


def prelu_as_relu_mix(model: bytes) -> bytes:
    """``model`` with every ``PRelu(x, constant a)`` turned into ``a*x + (1-a)*Relu(x)``."""
    one = scalar_initializer(_ONE, 1.0)
    return map_graph(model, lambda graph: _rewrite_nodes(graph, _prelu_as_mix, one))


def op_types(model: bytes) -> Iterator[str]:
    """Operator type of every node in ``model``'s main graph, in order (for tests and checks)."""
    for number, _, _, start, end in fields(model):
        if number == 7:
            graph = model[start:end]
            for g_number, _, g_field, g_start, g_end in fields(graph):
                if g_number == _GRAPH_NODE:
                    yield _node(graph[g_field:g_end], graph[g_start:g_end]).op_type
