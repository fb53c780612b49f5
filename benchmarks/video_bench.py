"""Benchmark vPDQ hashing of videos: today's exact path (the baseline) against the fast mode.

    python benchmarks/video_bench.py            # Meta's 720p sample + a synthetic 1080p clip
    python benchmarks/video_bench.py --quick    # shorter synthetic clip, one pass
    python benchmarks/video_bench.py --startup  # also `hashwall --help` wall time, best of 5

Every figure is CPU time of this process (decoder threads included), so "per core" and load from
neighbours on a shared machine stays out of it as far as it can; the baseline and the new code run
in the same process, interleaved pass by pass, and ratios are against the baseline of that run.

Rows:

* baseline: ``hash_frames(iter_video_frames(...))`` as it was before the fast mode (RGB conversion
  of every sampled frame, pdqhash at full frame size, border removal, no mirror hash);
* pdqhash per frame: decode, ``to_ndarray('rgb24')`` and ``pdqhash.compute`` only;
* exact / fast: ``hash_file`` with the CLI defaults (borders and mirror hashes on).

The synthetic 1080p clip (a panned generated texture, x264, keyframe every ``--gop`` seconds) is
written to a temporary folder and deleted. Meta's sample video is read from
../shared/conformance/threatexchange/tmk/sample-videos when present.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pdqhash
from PIL import Image

from hashwall.hashing import HashMode, HashOptions, hash_file
from hashwall.hashing.batch import hash_many, single_threaded_numerics
from hashwall.media.video import iter_video_frames
from hashwall.signals.hexcodec import hamming_hex
from hashwall.signals.vpdq import hash_frames

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared/conformance/threatexchange/tmk/sample-videos"


def synthetic_video(path: Path, seconds: float, fps: int, gop_seconds: float) -> Path:
    """1920x1080 pan and zoom over a generated texture (no faces, no people)."""
    rng = np.random.default_rng(5)
    coarse = rng.random((40, 80, 3)).astype(np.float32)
    texture = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (4800, 2400), Image.Resampling.BICUBIC
        )
    )
    count = round(seconds * fps)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "g": str(round(gop_seconds * fps))}
        for index in range(count):
            left = int(index * 1800 / max(1, count))
            top = int(300 + 200 * np.sin(index / 50))
            rgb = np.ascontiguousarray(texture[top : top + 1080, left : left + 1920])
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def baseline(path: Path, seconds_per_hash: float) -> int:
    frames = iter_video_frames(path, seconds_per_hash=seconds_per_hash)
    return len(hash_frames(frames, remove_borders=True, mirror=False))


def pdqhash_per_frame(path: Path, seconds_per_hash: float) -> int:
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        every = max(1, round(float(stream.average_rate or 0) * seconds_per_hash))
        for index, frame in enumerate(container.decode(stream)):
            if index % every == 0:
                pdqhash.compute(np.ascontiguousarray(frame.to_ndarray(format="rgb24")))
                count += 1
    return count


def with_mode(mode: HashMode) -> Callable[[Path, float], int]:
    def run(path: Path, seconds_per_hash: float) -> int:
        options = HashOptions(mode=mode, seconds_per_hash=seconds_per_hash)
        return len(hash_file(path, options).vpdq)

    return run


METHODS: dict[str, Callable[[Path, float], int]] = {
    "baseline: today's exact path": baseline,
    "pdqhash per frame (decode+rgb+pdqhash)": pdqhash_per_frame,
    "hashwall exact, CLI defaults": with_mode(HashMode.EXACT),
    "hashwall fast, CLI defaults": with_mode(HashMode.FAST),
}


def measure(path: Path, seconds_per_hash: float, passes: int) -> dict[str, tuple[float, int]]:
    """Best CPU seconds of each method over ``passes`` interleaved passes, and frames hashed."""
    best: dict[str, tuple[float, int]] = {}
    for _ in range(passes):
        for name, method in METHODS.items():
            start = time.process_time()
            frames = method(path, seconds_per_hash)
            spent = time.process_time() - start
            if name not in best or spent < best[name][0]:
                best[name] = (spent, frames)
    return best


def video_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


def table(title: str, path: Path, seconds_per_hash: float, passes: int) -> None:
    duration = video_seconds(path)
    results = measure(path, seconds_per_hash, passes)
    base = results["baseline: today's exact path"][0]
    print(f"\n{title}: {path.name}, {duration:.1f} s, seconds_per_hash={seconds_per_hash}")
    print("\n| method | frames | ms/frame (CPU) | x real time per core | vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, (spent, frames) in results.items():
        print(
            f"| {name} | {frames} | {1000 * spent / max(1, frames):.1f} | "
            f"{duration / spent:.1f} | {base / spent:.2f}x |"
        )


def drift(path: Path, seconds_per_hash: float) -> None:
    exact = hash_file(path, HashOptions(seconds_per_hash=seconds_per_hash)).vpdq
    fast = hash_file(path, HashOptions(mode=HashMode.FAST, seconds_per_hash=seconds_per_hash)).vpdq
    same = [e.frame for e in exact] == [f.frame for f in fast]
    distances = [
        hamming_hex(e.hash, f.hash) for e, f in zip(exact, fast, strict=False) if e.quality >= 50
    ]
    print(
        f"fast vs exact on {path.name} (spf={seconds_per_hash}): same frames {same}, "
        f"{len(distances)} frames q>=50, bits max {max(distances, default=0)}, "
        f"mean {np.mean(distances) if distances else 0:.2f}"
    )


def batch(path: Path, copies: int, folder: Path) -> None:
    files = []
    for index in range(copies):
        target = folder / f"copy{index}{path.suffix}"
        shutil.copy(path, target)
        files.append(target)
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    for mode in (HashMode.EXACT, HashMode.FAST):
        start = time.perf_counter()
        items = hash_many(files, HashOptions(mode=mode), jobs=jobs, start_method="spawn")
        done = sum(1 for _ in items)
        wall = time.perf_counter() - start
        seconds = video_seconds(path) * done
        print(
            f"hash_many {mode} jobs={jobs}: {done} videos, {seconds / wall:.1f}x real time (wall)"
        )


def startup() -> None:
    def best_of(command: list[str], env: dict[str, str]) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=False)
            times.append(time.perf_counter() - start)
        return min(times)

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    probe = [
        sys.executable,
        "-c",
        "import sys; from hashwall.cli.app import main; sys.argv=['hashwall','--help']; main()",
    ]
    here = best_of(probe, env)
    print(f"\n`hashwall --help` wall time, best of 5: {here:.3f} s (this tree)")
    other = os.environ.get("HASHWALL_BASELINE_SRC")
    if other:
        then = best_of(probe, {**os.environ, "PYTHONPATH": other})
        print(f"`hashwall --help` with {other}: {then:.3f} s ({then / here:.1f}x slower)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20.0, help="synthetic clip length")
    parser.add_argument("--gop", type=float, default=2.0, help="synthetic keyframe interval (s)")
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--synthetic-only", action="store_true", help="skip Meta's sample video")
    args = parser.parse_args()
    passes = 1 if args.quick else args.passes
    seconds = 6.0 if args.quick else args.seconds
    single_threaded_numerics()
    print(f"cpu: {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}")
    sample = SAMPLES / "doorknob-hd-no-bar.mp4"
    if sample.is_file() and not args.synthetic_only:
        table("Meta's 720p sample, every frame", sample, 0.0, passes)
        table("Meta's 720p sample, default sampling", sample, 1.0, passes)
        drift(sample, 0.0)
    with tempfile.TemporaryDirectory() as folder:
        clip = synthetic_video(Path(folder) / "synthetic-1080p.mp4", seconds, 30, args.gop)
        table(f"synthetic 1080p, keyframe every {args.gop:g} s", clip, 1.0, passes)
        drift(clip, 1.0)
        batch(clip, 2 if args.quick else 4, Path(folder))
    if args.startup:
        startup()
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
