"""Recall at PDQ distance <= 31 under common re-upload edits, and false matches on unrelated images.

Why: plain PDQ misses a picture that was rotated, flipped or padded with bars, which is exactly
what people do to get an abusive image past a hash list. hashwall adds dihedral variants and a
border-removed hash; this script measures what that buys (recall) and what it costs (false
matches against unrelated pictures), for issue 2.

Method:

* Known pictures: the offline photographs of ``_images.py`` (skimage.data, Meta's PDQ test
  photos, one frame per Meta sample video), each saved as PNG: the listed original.
* Each edit is applied to the pixels and saved as JPEG q90 (the JPEG row as q30), as a re-upload
  would be. Recall = share of (picture, edit) pairs that match the original.
* Plain PDQ: ``pdqhash.compute`` on Pillow's full decode of each file, nothing else.
  hashwall: ``hash_file`` records with the CLI defaults, ``compare_photos(query, stored)`` and
  ``.is_match()``. Both sides use Meta's thresholds: distance <= 31 and quality >= 50.
* Unrelated pictures: non-overlapping tiles (2x2 ... 5x5 grids) of every source picture and of
  extra video frames. A query is only ever compared with tiles from *other* scenes (the bridge in
  several files, or one video's frames, are one scene), so no pair shares content. Every original
  and edited picture is compared with every unrelated tile; a match there is a false match.

Run: ``python benchmarks/robustness_bench.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image

from _images import RGB, Source, load_sources, save_jpeg, save_png, tiles
from hashwall.hashing import HashOptions, HashRecord, hash_file
from hashwall.matching.compare import compare_photos, query_variants, stored_variants
from hashwall.signals.pdq import DISTANCE_THRESHOLD, QUALITY_THRESHOLD

MAX_SIDE = 1024  # known pictures larger than this are scaled down first (a phone re-upload)


def letterbox(rgb: RGB, fraction: float, value: int) -> RGB:
    """Bars on top and bottom making up ``fraction`` of the new height."""
    height, width = rgb.shape[:2]
    total = round(height / (1 - fraction)) - height
    top = total // 2
    out = np.full((height + total, width, 3), value, dtype=np.uint8)
    out[top : top + height] = rgb
    return out


def centre_crop(rgb: RGB, fraction: float) -> RGB:
    """Cut ``fraction`` of width and height away, half from each edge."""
    height, width = rgb.shape[:2]
    dy, dx = round(height * fraction / 2), round(width * fraction / 2)
    return np.ascontiguousarray(rgb[dy : height - dy, dx : width - dx])


def half_size(rgb: RGB) -> RGB:
    height, width = rgb.shape[:2]
    size = (max(1, width // 2), max(1, height // 2))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


# name -> (pixel edit, JPEG quality of the re-upload)
EDITS: dict[str, tuple[Callable[[RGB], RGB], int]] = {
    "re-encode JPEG q90 (control)": (lambda rgb: rgb, 90),
    "JPEG q30": (lambda rgb: rgb, 30),
    "resize 0.5": (half_size, 90),
    "horizontal flip": (lambda rgb: np.ascontiguousarray(rgb[:, ::-1]), 90),
    "rotate 90": (lambda rgb: np.ascontiguousarray(np.rot90(rgb)), 90),
    "letterbox 20% black": (lambda rgb: letterbox(rgb, 0.2, 0), 90),
    "letterbox 20% white": (lambda rgb: letterbox(rgb, 0.2, 255), 90),
    "crop 5%": (lambda rgb: centre_crop(rgb, 0.05), 90),
    "crop 10%": (lambda rgb: centre_crop(rgb, 0.10), 90),
}


@dataclass
class Item:
    group: str
    path: Path
    record: HashRecord
    plain_bits: NDArray[np.uint8]  # 256 bits of plain pdqhash
    plain_quality: int


def plain_pdq(path: Path) -> tuple[NDArray[np.uint8], int]:
    vector, quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return np.asarray(vector, dtype=np.uint8), int(quality)


def make_item(group: str, path: Path, options: HashOptions) -> Item:
    record = hash_file(path, options)
    bits, quality = plain_pdq(path)
    return Item(group, path, record, bits, quality)


def hex_bits(values: list[str]) -> NDArray[np.float32]:
    """Hex hashes as rows of 256 0/1 floats (PDQ hex is the bit vector, most significant first)."""
    raw = np.frombuffer(bytes.fromhex("".join(values)), dtype=np.uint8).reshape(len(values), 32)
    return np.unpackbits(raw, axis=1).astype(np.float32)


def hamming_matrix(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.int32]:
    """All pairwise Hamming distances between two sets of 0/1 rows, as one matrix product."""
    return np.rint(a @ (1 - b).T + (1 - a) @ b.T).astype(np.int32)


def plain_match(query: Item, stored: Item) -> bool:
    distance = int(np.count_nonzero(query.plain_bits != stored.plain_bits))
    return (
        distance <= DISTANCE_THRESHOLD
        and min(query.plain_quality, stored.plain_quality) >= QUALITY_THRESHOLD
    )


def hashwall_match(query: Item, stored: Item) -> bool:
    comparison = compare_photos(query.record, stored.record)
    return comparison is not None and comparison.is_match()


def false_matches(queries: list[Item], unrelated: list[Item]) -> tuple[dict[str, int], int]:
    """Count matches between every query and every unrelated tile of another scene.

    Distances are screened in bulk with numpy (the closest of all variant pairs); every pair
    that could match is then judged by ``compare_photos(...).is_match()`` itself, so the verdict
    is hashwall's own.
    """
    counts = {"plain": 0, "hashwall": 0, "pairs": 0, "min_plain": 256, "min_hashwall": 256}
    stored_rows: list[str] = []
    stored_owner: list[int] = []
    stored_quality: list[int] = []
    for index, item in enumerate(unrelated):
        for variant in stored_variants(item.record):
            stored_rows.append(variant.hash)
            stored_owner.append(index)
            stored_quality.append(variant.quality)
    stored_bits = hex_bits(stored_rows)
    owner = np.asarray(stored_owner)
    stored_good = np.asarray(stored_quality) >= QUALITY_THRESHOLD
    plain_stored = np.stack([item.plain_bits for item in unrelated]).astype(np.float32)
    plain_quality = np.asarray([item.plain_quality for item in unrelated])
    groups = np.asarray([item.group for item in unrelated])
    min_others = len(unrelated)
    for query in queries:
        other = groups != query.group
        min_others = min(min_others, int(other.sum()))
        counts["pairs"] += int(other.sum())
        # plain PDQ
        plain = hamming_matrix(query.plain_bits[None].astype(np.float32), plain_stored)[0]
        plain_other = np.where(other, plain, 256)
        if query.plain_quality >= QUALITY_THRESHOLD:
            trusted = plain_other[plain_quality >= QUALITY_THRESHOLD]
            counts["min_plain"] = min(counts["min_plain"], int(trusted.min(initial=256)))
        for index in np.flatnonzero(plain_other <= DISTANCE_THRESHOLD):
            counts["plain"] += plain_match(query, unrelated[index])
        # hashwall: closest variant pair per unrelated picture, then the real verdict
        variants = query_variants(query.record)
        matrix = hamming_matrix(hex_bits([variant.hash for variant in variants]), stored_bits)
        per_row = matrix.min(axis=0)
        closest = np.full(len(unrelated), 256, dtype=np.int32)
        np.minimum.at(closest, owner, per_row)
        closest = np.where(other, closest, 256)
        # closest pair where both hashes are good enough to be trusted (flat tiles are not)
        good_query = np.asarray([v.quality >= QUALITY_THRESHOLD for v in variants])
        trusted = matrix[good_query][:, stored_good & other[owner]]
        counts["min_hashwall"] = min(counts["min_hashwall"], int(trusted.min(initial=256)))
        for index in np.flatnonzero(closest <= DISTANCE_THRESHOLD):
            counts["hashwall"] += hashwall_match(query, unrelated[index])
    counts["min_others"] = min_others
    return counts, len(queries)


def build_unrelated(
    sources: list[Source], folder: Path, options: HashOptions, grids: tuple[int, ...]
) -> list[Item]:
    items: list[Item] = []
    for number, source in enumerate(sources):
        for grid in grids:
            if min(source.rgb.shape[:2]) // grid < 64:  # too small to be a picture of its own
                continue
            for index, tile in enumerate(tiles(source.rgb, grid)):
                path = save_jpeg(
                    np.ascontiguousarray(tile), folder / f"u{number}-{grid}-{index}.jpg"
                )
                items.append(make_item(source.group, path, options))
    return items


def shrink(rgb: RGB) -> RGB:
    height, width = rgb.shape[:2]
    if max(height, width) <= MAX_SIDE:
        return rgb
    factor = MAX_SIDE / max(height, width)
    size = (round(width * factor), round(height * factor))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pictures: a smoke run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    options = HashOptions()  # the CLI defaults: dihedral variants and border removal on
    sources = load_sources()
    known = [s for s in sources if s.photo]
    if args.quick:
        known = known[:6]
    grids = (2, 3) if args.quick else (2, 3, 4, 5)

    with tempfile.TemporaryDirectory(prefix="hashwall-robust-") as tmp:
        folder = Path(tmp)
        originals: list[Item] = []
        edited: dict[str, list[Item]] = {name: [] for name in EDITS}
        dropped: list[str] = []
        kept: list[Source] = []
        for number, source in enumerate(known):
            rgb = shrink(source.rgb)
            original = make_item(source.group, save_png(rgb, folder / f"k{number}.png"), options)
            assert original.record.pdq is not None
            if original.record.pdq.quality < QUALITY_THRESHOLD:
                # Too featureless for PDQ to vouch for: no list would hold it. Say so, skip it.
                dropped.append(f"{source.name} (quality {original.record.pdq.quality})")
                continue
            kept.append(source)
            originals.append(original)
            for edit_number, (name, (edit, quality)) in enumerate(EDITS.items()):
                path = save_jpeg(edit(rgb), folder / f"k{number}-e{edit_number}.jpg", quality)
                edited[name].append(make_item(source.group, path, options))
        unrelated = build_unrelated(sources, folder, options, grids)

        print(
            f"{len(originals)} known pictures ({len({s.group for s in kept})} scenes), "
            f"{len(unrelated)} unrelated tiles from {len(sources)} source pictures in "
            f"{len({s.group for s in sources})} scenes; thresholds: distance <= "
            f"{DISTANCE_THRESHOLD}, quality >= {QUALITY_THRESHOLD}"
        )
        if dropped:
            print(f"left out, PDQ quality < {QUALITY_THRESHOLD}: {', '.join(dropped)}")
        print()
        print("| edit | plain PDQ recall | hashwall recall | hashwall median distance |")
        print("| --- | ---: | ---: | ---: |")
        misses: list[str] = []
        for name, items in edited.items():
            plain_hits = sum(plain_match(q, o) for q, o in zip(items, originals, strict=True))
            hits = 0
            distances = []
            for query, original in zip(items, originals, strict=True):
                comparison = compare_photos(query.record, original.record)
                assert comparison is not None
                distances.append(comparison.distance)
                if comparison.is_match():
                    hits += 1
                else:
                    misses.append(
                        f"{name}: {kept[originals.index(original)].name} distance "
                        f"{comparison.distance} ({comparison.query_variant} vs "
                        f"{comparison.stored_variant}, quality {comparison.query_quality}/"
                        f"{comparison.stored_quality})"
                    )
            total = len(items)
            print(
                f"| {name} | {plain_hits}/{total} ({100 * plain_hits / total:.0f} %) | "
                f"{hits}/{total} ({100 * hits / total:.0f} %) | {np.median(distances):.0f} |"
            )

        queries = originals + [item for items in edited.values() for item in items]
        counts, query_count = false_matches(queries, unrelated)
        pairs = counts["pairs"]
        print()
        print(
            f"False matches: {query_count} original+edited pictures x unrelated tiles of other "
            f"scenes (at least {counts['min_others']} each) = {pairs:,} pairs"
        )
        print()
        print("| matcher | false matches | false-match rate | closest unrelated (quality >= 50) |")
        print("| --- | ---: | ---: | ---: |")
        for label, key in (("plain PDQ", "plain"), ("hashwall", "hashwall")):
            print(
                f"| {label} | {counts[key]} | {counts[key] / pairs:.2e} | {counts['min_' + key]} |"
            )
        if misses:
            print()
            print("hashwall misses:")
            for line in misses:
                print(f"  {line}")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
