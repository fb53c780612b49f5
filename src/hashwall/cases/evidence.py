"""Evidence packs: everything about one case in a folder a lawyer, police or a regulator can
check without trusting the sender.

Contents: ``evidence.json`` (the case record, its audit entries, the chain verification and
the head of the whole chain), ``summary.pdf`` (a readable summary), and ``SHA256SUMS`` (every
file's digest). The *verification hash* is the SHA-256 of ``evidence.json``'s canonical JSON;
it is printed, put in the summary and in ``SHA256SUMS``, so a copy can be checked against a
hash written down elsewhere. No media are included unless the caller passes media files and
``include_media=True``: by default the pack holds hashes, never the images.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hashwall.cases.audit import AuditStore, canonical_json, check, format_time, sha256_hex
from hashwall.cases.pdf import render_pdf

PACK_FORMAT = "hashwall-evidence-pack/1"


class EvidenceError(ValueError):
    """The pack cannot be written as asked (target not empty, missing media)."""


@dataclass(frozen=True)
class EvidencePack:
    folder: Path
    verification_hash: str
    chain_intact: bool
    files: dict[str, str]


def export_pack(
    *,
    case_id: str,
    case_record: Mapping[str, Any],
    audit: AuditStore,
    out_dir: Path,
    now: datetime,
    media: Sequence[Path] = (),
    include_media: bool = False,
) -> EvidencePack:
    """Write the pack into ``out_dir`` (created; must be empty). A broken chain is reported
    in the pack, not hidden: tampering is evidence too."""
    if media and not include_media:
        raise EvidenceError("media given without include_media: the pack holds hashes only")
    for path in media:
        if not path.is_file():
            raise EvidenceError(f"{path}: no such media file")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise EvidenceError(f"{out_dir}: not empty; choose a new folder")
    verification = check(audit)
    entries = [entry.to_json() for entry in audit.entries_for_case(case_id)]
    document: dict[str, Any] = {
        "format": PACK_FORMAT,
        "case_id": case_id,
        "generated_at": format_time(now),
        "case": json.loads(json.dumps(case_record, default=str)),
        "audit": {
            "entries": entries,
            "chain": {
                "intact": verification.intact,
                "entries": verification.entries,
                "head": str(verification.head) if verification.head else None,
                "problem": str(verification.problem) if verification.problem else None,
            },
        },
        "media_included": bool(media),
    }
    canonical = canonical_json(document)
    verification_hash = sha256_hex(canonical)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "evidence.json": json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n",
    }
    files["summary.pdf"] = render_pdf(
        f"Evidence pack - case {case_id}", _summary(document, verification_hash), now
    )
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    digests = {name: sha256_hex(content) for name, content in files.items()}
    if media:
        (out_dir / "media").mkdir()
        for path in media:
            target = out_dir / "media" / path.name
            shutil.copyfile(path, target)
            digests[f"media/{path.name}"] = sha256_hex(target.read_bytes())
    sums = [f"{digest}  {name}" for name, digest in sorted(digests.items())]
    sums.append(f"# verification hash (SHA-256 of canonical evidence.json): {verification_hash}")
    (out_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    return EvidencePack(out_dir, verification_hash, verification.intact, digests)


def verification_hash_of(evidence_json: Path) -> str:
    """Recompute the verification hash of a pack's ``evidence.json``."""
    return sha256_hex(canonical_json(json.loads(evidence_json.read_text(encoding="utf-8"))))


def _summary(document: Mapping[str, Any], verification_hash: str) -> str:
    chain = document["audit"]["chain"]
    lines = [
        f"Generated: {document['generated_at']}",
        f"Verification hash (SHA-256 of canonical evidence.json): {verification_hash}",
        f"Audit chain: {'intact' if chain['intact'] else 'BROKEN - ' + str(chain['problem'])}, "
        f"{chain['entries']} entries, head {chain['head']}",
        f"Media included: {'yes' if document['media_included'] else 'no (hashes only)'}",
        "",
        "Case record:",
        *json.dumps(document["case"], indent=2, ensure_ascii=False).splitlines(),
        "",
        "Audit entries for this case:",
    ]
    for entry in document["audit"]["entries"]:
        lines.append(f"#{entry['seq']} {entry['at']} {entry['actor']} {entry['action']}")
        lines.append(f"    hash {entry['hash']}")
    return "\n".join(lines)
