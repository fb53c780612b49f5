"""The ``hashwall`` command line as a user drives it: outputs, exit codes, error lines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from hashwall import __version__
from hashwall.cli.app import app

from ..conftest import textured_rgb

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


@pytest.mark.parametrize("command", ["hash", "compare", "match"])
def test_help_teaches(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0 and "Example" in out


def test_hash_prints_json_lines(photo_path: Path) -> None:
    code, out, _ = run("hash", str(photo_path), "-j", "1")
    assert code == 0
    (record,) = jsonl(out)
    assert record["path"] == str(photo_path) and record["content_type"] == "photo"
    signals = record["signals"]
    assert isinstance(signals, dict)
    assert len(signals["pdq"]["hash"]) == 64 and 0 <= signals["pdq"]["quality"] <= 100
    assert len(signals["pdq"]["dihedral"]) == 8
    assert len(signals["md5"]) == 32 and len(signals["sha256"]) == 64


def test_batch_continues_past_broken_files(tmp_path: Path, photo_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0garbage")
    (tmp_path / "notes.md").write_text("not media, skipped inside folders")
    code, out, err = run("hash", str(tmp_path), str(tmp_path / "missing.png"), "-j", "2")
    assert code == 1
    assert [r["path"] for r in jsonl(out)] == [str(photo_path)]
    assert f"{broken}: " in err and "missing.png: no such file" in err
    assert "notes.md" not in err and "skipped 1 non-media" in err


def test_output_file_and_csv(tmp_path: Path, photo_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, out, _ = run("hash", str(photo_path), "--format", "csv", "-o", str(target))
    assert code == 0 and out == ""
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert [r[0] for r in rows] == ["pdq", "md5", "sha256"]
    assert not list(tmp_path.glob("*.part"))


def test_output_into_missing_folder_is_a_usage_error(tmp_path: Path, photo_path: Path) -> None:
    code, _, err = run("hash", str(photo_path), "-o", str(tmp_path / "nope" / "out.jsonl"))
    assert code == 2 and "does not exist" in err


def test_compare_files_rotated_copy(tmp_path: Path, photo_path: Path) -> None:
    rotated = tmp_path / "rotated.jpg"
    Image.open(photo_path).transpose(Image.Transpose.ROTATE_90).save(rotated, quality=80)
    code, out, _ = run("compare", str(photo_path), str(rotated), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["match"] is True
    pdq = next(s for s in result["signals"] if s["signal"] == "pdq")
    assert pdq["distance"] <= 31 and "rotate" in pdq["note"]


def test_compare_unrelated_is_no_match(photo_path: Path, other_photo_path: Path) -> None:
    code, out, _ = run("compare", str(photo_path), str(other_photo_path))
    assert code == 1 and "NO MATCH" in out


def test_compare_hash_strings() -> None:
    a = "f" * 64
    b = "f" * 60 + "0000"
    code, out, _ = run("compare", a, b, "--json")
    assert code == 0 and json.loads(out)["signals"][0]["distance"] == 16


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("f" * 63, "f" * 64, "has 63 hex digits"),
        ("zz" * 32, "f" * 64, "non-hex"),
        ("f" * 64, "a" * 32, "share no signal"),
    ],
)
def test_compare_bad_strings(a: str, b: str, message: str) -> None:
    code, _, err = run("compare", a, b)
    assert code == 2 and message in err


def test_match_against_hash_list(tmp_path: Path, photo_path: Path, other_photo_path: Path) -> None:
    known = tmp_path / "known.jsonl"
    assert run("hash", str(photo_path), "-o", str(known))[0] == 0
    boxed = tmp_path / "uploads" / "boxed.jpg"
    boxed.parent.mkdir()
    picture = np.asarray(Image.open(photo_path))
    Image.fromarray(np.pad(picture, ((60, 60), (0, 0), (0, 0)))).save(boxed, quality=70)
    Image.open(other_photo_path).save(boxed.parent / "unrelated.png")
    code, out, err = run("match", "--against", str(known), str(boxed.parent), "-j", "1")
    assert code == 0, err
    (match,) = jsonl(out)
    assert match["path"] == str(boxed) and match["signal"] == "pdq"
    assert match["entry"] == {"line": 1, "label": str(photo_path)}
    assert match["query_variant"] == "borderless"


def test_match_csv_list_and_stricter_threshold(tmp_path: Path, photo_path: Path) -> None:
    record = jsonl(run("hash", str(photo_path))[1])[0]
    listing = tmp_path / "list.csv"
    listing.write_text(f"signal_type,signal_value\npdq,{record['signals']['pdq']['hash']}\n")  # type: ignore[index]
    code, out, _ = run("match", "-a", str(listing), str(photo_path))
    assert code == 0 and jsonl(out)[0]["signal"] == "pdq"
    code, _, err = run("match", "-a", str(listing), "--max-distance", "40", str(photo_path))
    assert code == 2 and "max-distance" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ('{"signals": {"pdq": {"hash": "abc"}}}\n', "line 1: invalid pdq value"),
        ("pdq,nothex\n", "line 1: invalid pdq value"),
        ("tmk,abc\n", "unknown signal type 'tmk'"),
        ("{not json\n", "line 1: not valid JSON"),
    ],
)
def test_match_rejects_bad_hash_lists(
    tmp_path: Path, photo_path: Path, content: str, message: str
) -> None:
    listing = tmp_path / "bad.jsonl"
    listing.write_text(content)
    code, out, err = run("match", "--against", str(listing), str(photo_path))
    assert code == 2 and message in err and out == ""


def test_video_hash_and_self_match(tmp_path: Path) -> None:
    import av

    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for seed in range(30):
            frame = av.VideoFrame.from_ndarray(textured_rgb(seed // 10, (160, 120)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    code, out, _ = run("hash", str(path), "--seconds-per-hash", "0.5")
    assert code == 0
    (record,) = jsonl(out)
    frames = record["signals"]["vpdq"]  # type: ignore[index]
    assert record["content_type"] == "video" and len(frames) == 6
    known = tmp_path / "known.jsonl"
    known.write_text(out)
    code, out, _ = run("match", "-a", str(known), str(path))
    assert code == 0 and jsonl(out)[0]["signal"] == "sha256"
    code, out, _ = run("compare", str(path), str(path), "--json")
    vpdq = next(s for s in json.loads(out)["signals"] if s["signal"] == "vpdq")
    assert vpdq["query_match_percent"] == 100.0 and vpdq["compared_match_percent"] == 100.0


@pytest.mark.parametrize("layout", ["pytx-csv", "pytx-collab"])
def test_match_reads_python_threatexchange_lists(
    tmp_path: Path, photo_path: Path, layout: str
) -> None:
    """pytx's CSV (``signal_str`` header, extra columns) and collaboration file (``type value``
    lines), with its ``video_md5`` name for a file digest, match as hashwall's own lists do."""
    record = jsonl(run("hash", str(photo_path))[1])[0]
    pdq = record["signals"]["pdq"]["hash"]  # type: ignore[index]
    md5 = record["signals"]["md5"]  # type: ignore[index]
    listing = tmp_path / "pytx.txt"
    if layout == "pytx-csv":
        listing.write_text(
            "signal_type,signal_str,collab,category,tags\n"
            f"pdq,{pdq},partners,positive,ncii\nvideo_md5,{md5},partners,positive,\n"
        )
    else:
        listing.write_text(f"pdq {pdq}\nvideo_md5 {md5}\n")
    code, out, err = run("match", "-a", str(listing), str(photo_path))
    assert code == 0, err
    assert {m["signal"] for m in jsonl(out)} == {"pdq", "md5"}
