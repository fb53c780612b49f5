"""PDQ written as linear algebra, for the fast hashing mode.

Everything PDQ does before its DCT is linear and separable: two passes of box filters along rows
and columns (the "Jarosz" tent filter), then sampling 64x64 pixel centres. So the 64x64 image is
``L @ luma @ R.T`` for two small matrices that depend only on the image size. With the matrices
cached per size, a hash costs two float32 matrix products instead of pdqhash's per-pixel loops,
which is what makes the fast mode fast.

Results equal the C++ reference up to float rounding (the reference sums in running order), so a
bit whose DCT coefficient sits exactly at the median can flip; the exact mode therefore keeps
using the reference code through ``pdqhash``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashwall.signals.pdq import REFERENCE_SIDE, PdqDigest

GRID = 64
FloatArray = NDArray[np.floating[Any]]
_DCT_SIZE = 16
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
#: How the eight dihedral variants are read off the original's 16x16 DCT: (transpose?, sign mask).
_I, _J = np.mgrid[0:_DCT_SIZE, 0:_DCT_SIZE]
_ODD_I = np.where(_I & 1, 1.0, -1.0).astype(np.float32)
_ODD_J = np.where(_J & 1, 1.0, -1.0).astype(np.float32)
_CHECKER = np.where((_I + _J) & 1, -1.0, 1.0).astype(np.float32)
_ONES = np.ones((_DCT_SIZE, _DCT_SIZE), dtype=np.float32)
_DIHEDRAL_RULES: tuple[tuple[bool, NDArray[np.float32]], ...] = (
    (False, _ONES),  # original
    (True, _ODD_J),  # rotate90: B[j][i] = +-A[i][j], sign by parity of j
    (False, _CHECKER),  # rotate180
    (True, _ODD_I),  # rotate270
    (False, _ODD_I),  # flipx
    (False, _ODD_J),  # flipy
    (True, _ONES),  # flipplus1
    (True, _CHECKER),  # flipminus1
)


def jarosz_window(old: int, new: int = GRID) -> int:
    return (old + 2 * new - 1) // (2 * new)


@lru_cache(maxsize=64)
def _box_matrix(length: int, window: int) -> NDArray[np.float64]:
    """One box-filter pass as a matrix: output k averages inputs [k - (w - h), k + h - 1]."""
    half = (window + 2) // 2
    matrix = np.zeros((length, length), dtype=np.float64)
    for k in range(length):
        low, high = max(0, k - (window - half)), min(length - 1, k + half - 1)
        matrix[k, low : high + 1] = 1.0 / (high - low + 1)
    return matrix


@lru_cache(maxsize=64)
def downsample_matrix(length: int) -> NDArray[np.float32]:
    """(64, length): two box passes then sampling of the 64 cell centres along one axis."""
    box = _box_matrix(length, jarosz_window(length))
    centres = (((np.arange(GRID) + 0.5) * length) / GRID).astype(np.int64)
    return np.ascontiguousarray((box @ box)[centres].astype(np.float32))


@lru_cache(maxsize=1)
def _dct_matrix() -> NDArray[np.float32]:
    rows = np.arange(1, _DCT_SIZE + 1, dtype=np.float64)[:, None]
    cols = np.arange(GRID, dtype=np.float64)[None, :]
    matrix = np.sqrt(2.0 / GRID) * np.cos((np.pi / 2.0 / GRID) * rows * (2 * cols + 1))
    result: NDArray[np.float32] = matrix.astype(np.float32)
    return result


def luma_of(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    luma: NDArray[np.float32] = np.ascontiguousarray(rgb.astype(np.float32) @ _LUMA)
    return luma


def quality_of(grid: FloatArray) -> int:
    """PDQ's gradient-count heuristic on the 64x64 image (truncating as the reference does)."""
    vertical = np.trunc((grid[:-1, :] - grid[1:, :]) * 100 / 255)
    horizontal = np.trunc((grid[:, :-1] - grid[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(100, total // 90)


def _bits_to_hex(dct: FloatArray) -> str:
    """Bit i*16+j is set when coefficient (i, j) exceeds the median (rank 128 of 256)."""
    flat = dct.reshape(-1)
    median = np.partition(flat, 127)[127]
    bits = flat > median
    value = int.from_bytes(np.packbits(bits[::-1]).tobytes(), "big")
    return f"{value:064x}"


def digest_from_luma(luma: NDArray[np.generic], *, dihedral: bool = True) -> PdqDigest:
    """PDQ of a luma image (any numeric dtype), as the reference computes it."""
    height, width = luma.shape
    if height < 5 or width < 5:
        return PdqDigest("0" * 64, 0, ("0" * 64,) * 8 if dihedral else ())
    pixels = np.ascontiguousarray(luma, dtype=np.float32)
    left, right = downsample_matrix(height), downsample_matrix(width)
    return digest_from_grid((left @ pixels) @ right.T, dihedral=dihedral)


def _centre_rows(length: int) -> NDArray[np.float64]:
    """The 64 sampled rows of ``box @ box`` (see :func:`downsample_matrix`), built from the
    box's band alone: O(64 * window * length) instead of a dense (length x length) product, so
    that the many frame sizes border removal produces stay cheap.
    """
    window = jarosz_window(length)
    half = (window + 2) // 2
    positions = np.arange(length)
    low = np.maximum(0, positions - (window - half))
    high = np.minimum(length - 1, positions + half - 1)
    centres = (((np.arange(GRID) + 0.5) * length) / GRID).astype(np.int64)
    counts = (high - low + 1).astype(np.float64)
    # Each centre averages the box rows ``middle`` in [low, high] of the centre: add each such
    # row's weight as a step at low[middle] and remove it after high[middle], then integrate.
    span = int(counts.max())
    middle = low[centres][:, None] + np.arange(span)[None, :]
    valid = middle <= high[centres][:, None]
    middle = np.minimum(middle, length - 1)
    weight = np.where(valid, 1.0 / counts[centres][:, None] / counts[middle], 0.0)
    steps = np.zeros((GRID, length + 1), dtype=np.float64)
    out = np.broadcast_to(np.arange(GRID)[:, None], middle.shape)
    np.add.at(steps, (out, low[middle]), weight)
    np.add.at(steps, (out, high[middle] + 1), -weight)
    rows: NDArray[np.float64] = np.cumsum(steps, axis=1)[:, :length]
    rows[np.abs(rows) < 1e-12] = 0.0
    return rows


@lru_cache(maxsize=512)
def downsample_band(length: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """:func:`downsample_matrix` as a band: for each of the 64 outputs, the indices of the
    (at most ~4 windows) inputs it reads and their weights, as (64, k) arrays.

    Multiplying by the dense (64, n) matrix costs 64*n per row of the image; the band touches only
    the ~2 windows around each cell centre, which for a 1080p frame is ~40x fewer operations.
    """
    dense = _centre_rows(length)
    nonzero = dense != 0
    first = nonzero.argmax(axis=1)
    last = length - 1 - nonzero[:, ::-1].argmax(axis=1)
    width = int((last - first).max()) + 1
    starts = np.minimum(first, max(0, length - width))
    indices = starts[:, None] + np.arange(width)[None, :]
    weights = np.take_along_axis(dense, indices, axis=1)
    return indices.astype(np.int64), np.ascontiguousarray(weights, dtype=np.float32)


def digest_from_luma_banded(
    luma: NDArray[np.uint8],
    *,
    levels: tuple[float, float] = (1.0, 0.0),
    dihedral: bool = False,
) -> PdqDigest:
    """:func:`digest_from_luma` for video frames: reads only the rows and columns the 64x64
    downsample needs, straight from a (possibly strided) uint8 plane.

    ``levels`` (scale, offset) maps the values to full-range luma; applied to the 64x64 grid, which
    is the same because each downsample row sums to one.
    """
    height, width = luma.shape
    if height < 5 or width < 5:
        return PdqDigest("0" * 64, 0, ("0" * 64,) * 8 if dihedral else ())
    row_index, row_weight = downsample_band(height)
    col_index, col_weight = downsample_band(width)
    # Rows first: gather (64, k, width) uint8, weight and sum to (64, width) float32.
    rows = luma.take(row_index.reshape(-1), axis=0).astype(np.float32)
    partial = np.matmul(row_weight[:, None, :], rows.reshape(GRID, row_index.shape[1], width))
    columns = partial[:, 0, :].take(col_index.reshape(-1), axis=1)
    grid = (columns.reshape(GRID, GRID, col_index.shape[1]) * col_weight[None, :, :]).sum(axis=2)
    scale, offset = levels
    if scale != 1.0 or offset != 0.0:
        grid = grid * np.float32(scale) + np.float32(offset)
    return digest_from_grid(grid, dihedral=dihedral)


def digest_from_grid(grid: FloatArray, *, dihedral: bool) -> PdqDigest:
    """PDQ hash, quality and (optionally) the eight variants from the 64x64 downsampled image."""
    dct_matrix = _dct_matrix()
    dct = dct_matrix @ grid @ dct_matrix.T
    quality = quality_of(grid)
    if not dihedral:
        return PdqDigest(_bits_to_hex(dct), quality)
    variants = tuple(
        _bits_to_hex((dct.T if transpose else dct) * (sign.T if transpose else sign))
        for transpose, sign in _DIHEDRAL_RULES
    )
    return PdqDigest(variants[0], quality, variants)


def reference_gather(full: int, decoded: int, squash: bool) -> NDArray[np.int64] | None:
    """Which decoded pixels the reference's 512-px nearest-neighbour squash would sample.

    ``full`` is the axis length at full scale, ``decoded`` its length as decoded (smaller when the
    JPEG was decoded at reduced scale); ``squash`` says whether the reference resizes this image.
    ``None`` means "use every decoded pixel as is".
    """
    target = REFERENCE_SIDE if squash else full
    if target == full and decoded == full:
        return None
    full_positions = (np.arange(target, dtype=np.int64) * full) // target
    return np.minimum((full_positions * decoded) // full, decoded - 1)


def reference_digest_from_luma(
    luma: NDArray[np.generic], full_size: tuple[int, int], *, dihedral: bool = True
) -> PdqDigest:
    """Approximate the reference PDQ of the full-size image from a (reduced-scale) luma decode.

    The squash is a gather of rows then columns, done before any float conversion so only the
    512x512 sample is ever converted and multiplied.
    """
    full_width, full_height = full_size
    squash = full_width > REFERENCE_SIDE or full_height > REFERENCE_SIDE
    height, width = luma.shape
    rows = reference_gather(full_height, height, squash)
    cols = reference_gather(full_width, width, squash)
    if rows is not None:
        luma = luma.take(rows, axis=0)
    if cols is not None:
        luma = luma.take(cols, axis=1)
    return digest_from_luma(luma, dihedral=dihedral)
