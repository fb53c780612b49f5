"""WARC, WARC.gz and WACZ archives: exactly the right findings, every skip named and counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from hashwall.hashing.options import HashOptions
from tests.scan.conftest import Pictures
from tests.scan.support import (
    Response,
    edited,
    labels,
    scan,
    wacz_bytes,
    warc_bytes,
    with_xmp,
)


def crawl(p: Pictures) -> list[Response]:
    return [
        Response("http://a.example/known.jpg", p.known),
        Response("http://b.example/copy.jpg", edited(p.other_known)),
        Response("http://c.example/holiday.jpg", p.unrelated),
        Response("http://c.example/", b"<html><body>hello</body></html>", "text/html"),
        Response("http://c.example/gone.jpg", b"not here", "text/plain", "404 Not Found"),
    ]


EXPECTED = [("http://a.example/known.jpg", "known-1"), ("http://b.example/copy.jpg", "known-2")]


@pytest.mark.parametrize("gzip", [True, False])
def test_warc_findings_are_exact(tmp_path: Path, pictures: Pictures, gzip: bool) -> None:
    archive = tmp_path / ("crawl.warc.gz" if gzip else "crawl.warc")
    archive.write_bytes(warc_bytes(crawl(pictures), gzip=gzip))
    findings, summary = scan(pictures.bank, [archive])
    assert labels(findings) == EXPECTED
    assert summary.items_seen == 5
    assert summary.media_hashed == 3
    assert summary.matches == 2
    assert dict(summary.skips) == {"non_media": 1, "http_error": 1}
    exact, near = sorted(findings, key=lambda f: str(f["source"]["url"]))  # type: ignore[index]
    assert (exact["signal"], exact["distance"]) == ("sha256", 0)
    assert near["signal"] == "pdq" and 0 < int(near["distance"]) <= 31  # type: ignore[call-overload]
    source = exact["source"]
    assert isinstance(source, dict)
    assert source["record_id"].startswith("<urn:uuid:")
    assert source["payload_digest"].startswith("sha1:")
    assert exact["time"] and exact["content_type"] == "image/jpeg"
    assert "payload" not in exact and "known" not in str(exact["sha256"])


def test_wacz_streams_every_archive_inside(tmp_path: Path, pictures: Pictures) -> None:
    archive = tmp_path / "capture.wacz"
    second = [Response("http://d.example/again.jpg", pictures.known)]
    archive.write_bytes(
        wacz_bytes(
            {"data.warc.gz": warc_bytes(crawl(pictures)), "more.warc": warc_bytes(second, False)}
        )
    )
    findings, summary = scan(pictures.bank, [archive])
    assert labels(findings) == sorted([*EXPECTED, ("http://d.example/again.jpg", "known-1")])
    assert {f["source"]["wacz"] for f in findings} == {str(archive)}  # type: ignore[index]
    assert summary.media_hashed == 4


@pytest.mark.parametrize("gzip", [True, False])
def test_truncated_warc_is_reported_and_the_rest_scanned(
    tmp_path: Path, pictures: Pictures, gzip: bool
) -> None:
    whole = warc_bytes(
        [
            Response("http://a.example/known.jpg", pictures.known),
            Response("http://c.example/holiday.jpg", pictures.unrelated),
            Response("http://b.example/copy.jpg", pictures.other_known),
        ],
        gzip=gzip,
    )
    archive = tmp_path / ("cut.warc.gz" if gzip else "cut.warc")
    archive.write_bytes(whole[: len(whole) - len(pictures.other_known) // 2])
    good = tmp_path / "good.warc.gz"
    good.write_bytes(warc_bytes([Response("http://e.example/k.jpg", pictures.known)]))
    findings, summary = scan(pictures.bank, [archive, good])
    assert labels(findings) == [
        ("http://a.example/known.jpg", "known-1"),
        ("http://e.example/k.jpg", "known-1"),
    ]
    assert summary.skips["truncated_warc"] == 1
    assert summary.media_hashed == 3
    assert summary.units_done == 2


def test_garbage_and_empty_archives_are_named_skips(tmp_path: Path, pictures: Pictures) -> None:
    (tmp_path / "junk.warc.gz").write_bytes(b"\x1f\x8b\x08 this is not gzip at all")
    (tmp_path / "empty.wacz").write_bytes(b"PK not a zip")
    findings, summary = scan(pictures.bank, [tmp_path / "junk.warc.gz", tmp_path / "empty.wacz"])
    assert findings == []
    assert summary.skips["unreadable_source"] == 2


def test_limits_refuse_bombs_and_oversized_payloads(tmp_path: Path, pictures: Pictures) -> None:
    archive = tmp_path / "big.warc.gz"
    archive.write_bytes(
        warc_bytes(
            [
                Response("http://a.example/known.jpg", pictures.known),
                Response("http://a.example/huge.jpg", pictures.known + b"\0" * 200_000),
            ]
        )
    )
    options = HashOptions(max_pixels=10_000)  # 320x240 pictures are "bombs" under this cap
    findings, summary = scan(
        pictures.bank, [archive], hash_options=options, max_bytes=len(pictures.known) + 1000
    )
    assert findings == []
    assert dict(summary.skips) == {"too_large": 2}


def test_declared_ai_origin_is_in_the_finding(tmp_path: Path, pictures: Pictures) -> None:
    archive = tmp_path / "ai.warc.gz"
    archive.write_bytes(
        warc_bytes(
            [
                Response("http://a.example/declared.jpg", with_xmp(pictures.known)),
                Response("http://a.example/plain.jpg", pictures.known),
            ]
        )
    )
    findings, _ = scan(pictures.bank, [archive])
    by_url = {f["source"]["url"]: f for f in findings}  # type: ignore[index]
    assert by_url["http://a.example/declared.jpg"]["provenance"] == {
        "xmp": {"digital_source_type": "trainedAlgorithmicMedia", "generative_ai": True},
        "generative_ai": True,
    }
    assert "provenance" not in by_url["http://a.example/plain.jpg"]


def test_folders_match_in_place_and_skip_non_media(tmp_path: Path, pictures: Pictures) -> None:
    folder = tmp_path / "bucket"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "copy.jpg").write_bytes(edited(pictures.known))
    (folder / "holiday.jpg").write_bytes(pictures.unrelated)
    (folder / "notes.txt").write_text("nothing to see")
    (folder / "broken.jpg").write_bytes(pictures.known[:600])
    findings, summary = scan(pictures.bank, [folder])
    assert labels(findings) == [(str(folder / "deep" / "copy.jpg"), "known-1")]
    assert summary.media_hashed == 2
    assert dict(summary.skips) == {"non_media": 1, "decode_error": 1}


def test_content_credentials_are_read_and_their_trust_reported(
    tmp_path: Path, pictures: Pictures
) -> None:
    pytest.importorskip("c2pa", reason="c2pa-python is not installed (pip install '.[scan]')")
    from tests.scan.c2pa_support import signed_jpeg

    archive = tmp_path / "signed.warc.gz"
    archive.write_bytes(
        warc_bytes([Response("http://a.example/signed.jpg", signed_jpeg(pictures.known))])
    )
    findings, _ = scan(pictures.bank, [archive])
    assert len(findings) == 1
    assert findings[0]["signal"] == "pdq"  # signing changed the bytes, not the picture
    provenance = findings[0]["provenance"]
    assert isinstance(provenance, dict) and provenance["generative_ai"] is True
    credentials = provenance["c2pa"]
    assert credentials["digital_source_type"] == "trainedAlgorithmicMedia"
    assert credentials["generative_ai"] is True
    assert credentials["claim_generator"] == "hashwall-tests"
    assert credentials["signer"] == "test signer"
    assert "signingCredential.untrusted" in credentials["validation"]


def test_a_source_named_twice_is_scanned_once(tmp_path: Path, pictures: Pictures) -> None:
    folder = tmp_path / "bucket"
    folder.mkdir()
    (folder / "copy.jpg").write_bytes(pictures.known)
    archive = tmp_path / "crawl.warc.gz"
    archive.write_bytes(warc_bytes([Response("http://a.example/k.jpg", pictures.known)]))
    findings, summary = scan(
        pictures.bank, [folder, folder / "copy.jpg", archive, archive], batch_items=4
    )
    assert labels(findings) == sorted(
        [("http://a.example/k.jpg", "known-1"), (str(folder / "copy.jpg"), "known-1")]
    )
    assert summary.matches == 2
