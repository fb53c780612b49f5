"""Test material for the scanner: synthetic pictures, a bank made by hashwall's own hashing,
and WARC/WACZ archives written with warcio (the library the scanner reads them with)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from hashwall.hashing.options import HashOptions
from hashwall.hashing.pipeline import hash_file
from hashwall.scan.banks import BankSpec
from hashwall.scan.pipeline import ScanConfig, run_scan
from hashwall.scan.summary import Summary
from hashwall.scan.worker import WorkerConfig
from tests.conftest import textured_rgb

XMP_AI = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
    b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def jpeg(seed: int, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(textured_rgb(seed, size)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def edited(data: bytes) -> bytes:
    """The same picture resized and re-encoded harder, as a re-upload would be."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    out = io.BytesIO()
    image.resize((image.width * 2 // 3, image.height * 2 // 3)).save(out, "JPEG", quality=55)
    return out.getvalue()


def with_xmp(data: bytes, packet: bytes = XMP_AI) -> bytes:
    """A JPEG with an XMP APP1 segment inserted after its start marker."""
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    segment = b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body
    return data[:2] + segment + data[2:]


def write_bank(path: Path, pictures: dict[str, bytes]) -> Path:
    """A ``hashwall hash`` JSON-lines list with a label per picture."""
    lines = []
    for label, data in pictures.items():
        picture = path.parent / f"bank-{label}.jpg"
        picture.write_bytes(data)
        lines.append(json.dumps({**hash_file(picture).as_json(), "label": label}))
        picture.unlink()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Response:
    url: str
    body: bytes
    content_type: str = "image/jpeg"
    status: str = "200 OK"


def warc_bytes(responses: list[Response], gzip: bool = True) -> bytes:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip)
    for response in responses:
        headers = StatusAndHeaders(
            response.status, [("Content-Type", response.content_type)], protocol="HTTP/1.1"
        )
        record = writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body), http_headers=headers
        )
        writer.write_record(record)
    return out.getvalue()


def wacz_bytes(warcs: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("datapackage.json", json.dumps({"profile": "data-package"}))
        for name, data in warcs.items():
            archive.writestr(f"archive/{name}", data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def scan(
    bank: Path,
    paths: list[Path] | None = None,
    *,
    out: Path | None = None,
    hash_options: HashOptions | None = None,
    **config: object,
) -> tuple[list[dict[str, object]], Summary]:
    """Run a scan in this process; the findings as dicts and the summary."""
    worker = WorkerConfig(BankSpec((str(bank),)), hash_options or HashOptions())
    settings = ScanConfig(worker, tuple(paths or ()), **config)  # type: ignore[arg-type]
    target = out or bank.parent / "findings.jsonl"
    with target.open("w", encoding="utf-8") as handle:
        summary = run_scan(settings, handle)
    lines = target.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], summary


def labels(findings: list[dict[str, object]]) -> list[tuple[str, str]]:
    """(URL, path or object, matched label) pairs, sorted."""
    pairs = []
    for data in findings:
        source = data["source"]
        entry = data["entry"]
        assert isinstance(source, dict) and isinstance(entry, dict)
        where = source.get("url") or source.get("path") or source.get("object")
        pairs.append((str(where), str(entry["label"])))
    return sorted(pairs)
