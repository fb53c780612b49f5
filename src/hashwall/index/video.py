"""VideoFrameIndex: vPDQ matching on top of a frame-level HammingIndex.

Terminology follows Meta's vPDQ: the **query** is the video being checked (an
upload), the **compared** video is one already in the index (the bank).

* ``query_match_percent``: % of the query's frames that have at least one frame
  of the compared video within `radius`;
* ``compared_match_percent``: % of the compared video's frames that are within
  `radius` of at least one query frame.

Frames are expected to be quality-filtered and de-duplicated by the caller, as in
vPDQ; percentages are over the frames given.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashwall.index._format import IndexFileError, load_sections, save_sections
from hashwall.index._hamming import HammingIndex
from hashwall.index._validate import as_hashes

_KIND = "vpdq"


@dataclass(frozen=True)
class VideoMatch:
    """One compared (indexed) video that shares frames with the query video."""

    video_id: int
    query_match_percent: float
    compared_match_percent: float


class VideoFrameIndex:
    """Index of vPDQ frame hashes grouped by video, with vPDQ match percentages."""

    def __init__(self, bits: int = 256, *, delta_limit: int = 4096) -> None:
        self._frames = HammingIndex(bits, delta_limit=delta_limit)
        self._lock = threading.Lock()
        # frame id -> video id; only grows, so readers holding an old array stay valid
        self._frame_video = np.full(16, -1, np.int64)
        self._next_frame = 0
        self._videos: dict[int, npt.NDArray[np.int64]] = {}

    def __len__(self) -> int:
        """Number of videos."""
        return len(self._videos)

    def __contains__(self, video_id: object) -> bool:
        return isinstance(video_id, int | np.integer) and int(video_id) in self._videos

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    def add_video(self, video_id: int, frame_hashes: Any) -> None:
        """Index one video's frames (ValueError if the video id is already present)."""
        if not isinstance(video_id, int | np.integer) or isinstance(video_id, bool):
            raise TypeError(f"video_id must be an int, got {type(video_id).__name__}")
        h = as_hashes(frame_hashes, self._frames.nbytes, "frame_hashes")
        if len(h) == 0:
            raise ValueError("a video needs at least one frame hash")
        vid = int(video_id)
        with self._lock:
            if vid in self._videos:
                raise ValueError(f"video {vid} is already in the index")
            start = self._next_frame
            fids = np.arange(start, start + len(h), dtype=np.int64)
            if fids[-1] >= len(self._frame_video):
                grown = np.full(max(2 * len(self._frame_video), int(fids[-1]) + 1), -1, np.int64)
                grown[:start] = self._frame_video[:start]
                self._frame_video = grown
            self._frame_video[fids] = vid
            self._frames.add(fids, h)
            self._next_frame = start + len(h)
            self._videos[vid] = fids

    def remove_video(self, video_id: int) -> None:
        """Withdraw a video; its frames stop matching immediately."""
        vid = int(video_id)
        with self._lock:
            fids = self._videos.get(vid)
            if fids is None:
                raise ValueError(f"video {vid} is not in the index")
            self._frames.remove(fids)
            del self._videos[vid]

    def search_video(
        self,
        query_frame_hashes: Any,
        radius: int = 31,
        *,
        workers: int = 1,
        min_query_percent: float = 0.0,
        min_compared_percent: float = 0.0,
    ) -> list[VideoMatch]:
        """Compared videos sharing frames with the query, best query coverage first."""
        q = as_hashes(query_frame_hashes, self._frames.nbytes, "query_frame_hashes")
        if len(q) == 0:
            return []
        hits = self._frames.search(q, radius, workers=workers)
        frame_video = self._frame_video  # read after the search: covers every frame hit
        counts = np.array([len(ids) for ids, _ in hits], np.int64)
        if counts.sum() == 0:
            return []
        fids = np.concatenate([ids for ids, _ in hits])
        qidx = np.repeat(np.arange(len(q)), counts)
        vids = frame_video[fids]
        # query side: distinct (query frame, video) pairs per video
        pairs = np.unique(np.stack([vids, qidx], axis=1), axis=0)
        v_q, n_q = np.unique(pairs[:, 0], return_counts=True)
        # compared side: distinct matched frames per video
        uf = np.unique(fids)
        v_c, n_c = np.unique(frame_video[uf], return_counts=True)
        compared = dict(zip(v_c.tolist(), n_c.tolist(), strict=True))
        out = []
        for v, nq in zip(v_q.tolist(), n_q.tolist(), strict=True):
            frames = self._videos.get(v)
            if frames is None:  # removed while we searched
                continue
            qp = 100.0 * nq / len(q)
            cp = 100.0 * compared[v] / len(frames)
            if qp >= min_query_percent and cp >= min_compared_percent:
                out.append(VideoMatch(v, qp, cp))
        out.sort(key=lambda m: (-m.query_match_percent, -m.compared_match_percent, m.video_id))
        return out

    def compact(self) -> None:
        """Fold recent additions into the frame index's MIH snapshot."""
        self._frames.compact()

    def save(self, path: str | os.PathLike[str]) -> None:
        """One checksummed file: the frame index plus the frame -> video map."""
        with self._lock:
            meta, sections = self._frames.to_sections()
            fv = self._frame_video[: self._next_frame].copy()
            live = np.zeros(len(fv), bool)
            for fids in self._videos.values():
                live[fids] = True
            fv[~live] = -1
        sections = {f"frames.{k}": v for k, v in sections.items()}
        sections["frame_video"] = fv
        save_sections(path, _KIND, {"frames": meta}, sections)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> VideoFrameIndex:
        """Read a file written by :meth:`save`; ValueError (IndexFileError) if damaged."""
        meta, s = load_sections(path, _KIND, verify=verify)
        where = str(Path(path))
        inner = {k.removeprefix("frames."): v for k, v in s.items() if k.startswith("frames.")}
        try:
            frames = HammingIndex.from_sections(meta["frames"], inner, where)
            fv = np.array(s["frame_video"], dtype=np.int64)
        except KeyError as e:
            raise IndexFileError(f"{where}: missing section {e}") from None
        idx = cls(frames.bits)
        idx._frames = frames
        idx._next_frame = len(fv)
        idx._frame_video = fv if len(fv) else np.full(16, -1, np.int64)
        live = np.flatnonzero(fv >= 0)
        order = np.argsort(fv[live], kind="stable")
        vids, starts = np.unique(fv[live][order], return_index=True)
        for v, part in zip(vids.tolist(), np.split(live[order], starts[1:]), strict=True):
            idx._videos[v] = part
        if sum(len(p) for p in idx._videos.values()) != len(frames):
            raise IndexFileError(f"{where}: frame map does not match the frame index")
        return idx
