"""Template files: the only thing enrolment keeps (embeddings, model id, consent, date; no photos).

A template is biometric data, so the file format is designed for storing it encrypted at rest:

* plain: JSON ``{"format": "hashwall-likeness-template", "version": 1, ...}``;
* encrypted: JSON envelope ``{"format": "hashwall-likeness-template-encrypted", ...}`` whose
  ``ciphertext`` is the plain file under AES-256-GCM. The key is either a 32-byte random key (what
  a service keeps in its settings) or derived from a passphrase with scrypt and a per-file salt.
  The envelope's clear header (template id, cipher, KDF parameters) is authenticated as associated
  data, so it cannot be swapped between files; the template id is a random UUID, not personal data,
  and lets a service revoke a template without decrypting it.

Files are written atomically with mode 0600. Every failure is a :class:`TemplateError` with one
line naming the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hashwall.likeness.errors import TemplateError, WrongKeyError

FORMAT = "hashwall-likeness-template"
ENCRYPTED_FORMAT = "hashwall-likeness-template-encrypted"
VERSION = 1
SUFFIX = ".template.json"
KEY_BYTES = 32
# scrypt cost for passphrases: 2**15 x 8 x 1 takes ~0.1 s and 32 MiB, the interactive-login
# setting recommended by the scrypt paper's authors for 2009 hardware and still a sane floor.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


@dataclass(frozen=True)
class Template:
    """An enrolled person's face template. ``embeddings`` is (n_photos, dim), L2-normalised."""

    template_id: str
    model_id: str
    embeddings: NDArray[np.float32]
    consent_statement: str
    created: str
    detector_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def new(
        embeddings: NDArray[np.float32], model_id: str, consent_statement: str, detector_id: str
    ) -> Template:
        """A fresh template with a random id and the current UTC time."""
        return Template(
            template_id=uuid.uuid4().hex,
            model_id=model_id,
            embeddings=np.asarray(embeddings, dtype=np.float32),
            consent_statement=consent_statement,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            detector_id=detector_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The plain file's JSON object."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "template_id": self.template_id,
            "created": self.created,
            "consent": {"statement": self.consent_statement},
            "model": {"embedder": self.model_id, "detector": self.detector_id},
            "embedding_dim": int(self.embeddings.shape[1]),
            "embeddings": [[float(v) for v in row] for row in self.embeddings],
        }


@dataclass(frozen=True)
class TemplateKey:
    """Key material for encrypted templates: a raw 32-byte key or a passphrase."""

    raw_key: bytes | None = None
    passphrase: bytes | None = None

    @staticmethod
    def generate() -> TemplateKey:
        """A new random 256-bit key."""
        return TemplateKey(raw_key=os.urandom(KEY_BYTES))

    def encoded(self) -> str:
        """The raw key as URL-safe base64 (the key-file format); passphrases are not encoded."""
        if self.raw_key is None:
            raise TemplateError("only a raw key can be written to a key file")
        return base64.urlsafe_b64encode(self.raw_key).decode("ascii")

    @staticmethod
    def from_file(path: Path) -> TemplateKey:
        """Read a key file: URL-safe base64 of 32 bytes is a raw key, anything else a passphrase."""
        try:
            content = path.read_bytes().strip()
        except OSError as error:
            raise TemplateError(f"{path}: cannot read key file ({error.strerror})") from None
        if not content:
            raise TemplateError(f"{path}: key file is empty")
        try:
            decoded = base64.urlsafe_b64decode(content)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) == KEY_BYTES:
            return TemplateKey(raw_key=decoded)
        return TemplateKey(passphrase=content)


def write_key_file(path: Path, key: TemplateKey) -> None:
    """Write ``key`` (raw) to ``path`` with mode 0600, refusing to overwrite an existing key."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TemplateError(f"{path}: already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.encoded() + "\n")


def save_template(template: Template, path: Path, key: TemplateKey | None = None) -> None:
    """Write ``template`` to ``path`` (encrypted when ``key`` is given), atomically, mode 0600."""
    plain = json.dumps(template.to_json(), separators=(",", ":")).encode("utf-8")
    payload = plain if key is None else _encrypt(plain, template.template_id, key)
    _atomic_write(path, payload)


def load_template(path: Path, key: TemplateKey | None = None) -> Template:
    """Read and validate a template file; :class:`TemplateError` with a clear line otherwise."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TemplateError(f"{path}: cannot read template ({error.strerror})") from None
    document = _parse_json(path, data)
    if document.get("format") == ENCRYPTED_FORMAT:
        if key is None:
            raise TemplateError(f"{path}: template is encrypted; give the key with --key-file")
        document = _parse_json(path, _decrypt(path, document, key))
    return _template_from_json(path, document)


def template_to_bytes(template: Template, key: TemplateKey | None = None) -> bytes:
    """The file content :func:`save_template` writes, in memory (a service stores it in a row)."""
    plain = json.dumps(template.to_json(), separators=(",", ":")).encode("utf-8")
    return plain if key is None else _encrypt(plain, template.template_id, key)


def template_from_bytes(
    data: bytes, key: TemplateKey | None = None, name: str = "upload"
) -> Template:
    """Parse template content held in memory (never written to disk); ``name`` labels errors."""
    label = Path(name)
    document = _parse_json(label, data)
    if document.get("format") == ENCRYPTED_FORMAT:
        if key is None:
            raise TemplateError(f"{name}: template is encrypted; give the key")
        document = _parse_json(label, _decrypt(label, document, key))
    return _template_from_json(label, document)


def template_id_of(path: Path) -> str | None:
    """The template id of a plain or encrypted file without decrypting it; None if unreadable."""
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    value = document.get("template_id") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def template_files(locations: list[Path]) -> list[Path]:
    """Template files named directly, plus every ``*.template.json`` inside named folders."""
    files: list[Path] = []
    for location in locations:
        if location.is_dir():
            files.extend(sorted(location.rglob(f"*{SUFFIX}")))
        else:
            files.append(location)
    return files


def _parse_json(path: Path, data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise TemplateError(
            f"{path}: not a hashwall likeness template (corrupt or truncated JSON)"
        ) from None
    if not isinstance(document, dict) or document.get("format") not in (FORMAT, ENCRYPTED_FORMAT):
        raise TemplateError(f"{path}: not a hashwall likeness template (unknown format)")
    if document.get("version") != VERSION:
        raise TemplateError(f"{path}: template version {document.get('version')!r} is unsupported")
    return document


def _template_from_json(path: Path, document: dict[str, Any]) -> Template:
    try:
        rows = document["embeddings"]
        dim = int(document["embedding_dim"])
        embeddings = np.asarray(rows, dtype=np.float32)
        model = document["model"]
        template = Template(
            template_id=str(document["template_id"]),
            model_id=str(model["embedder"]),
            embeddings=embeddings,
            consent_statement=str(document["consent"]["statement"]),
            created=str(document["created"]),
            detector_id=str(model.get("detector", "")),
        )
    except (KeyError, TypeError, ValueError):
        raise TemplateError(f"{path}: template is corrupt (missing or malformed fields)") from None
    if embeddings.ndim != 2 or embeddings.shape[0] == 0 or embeddings.shape[1] != dim:
        raise TemplateError(f"{path}: template is corrupt (embeddings do not have {dim} values)")
    norms = np.linalg.norm(embeddings, axis=1)
    if not np.all(np.isfinite(embeddings)) or not np.allclose(norms, 1.0, atol=1e-3):
        raise TemplateError(f"{path}: template is corrupt (embeddings are not unit vectors)")
    return template


def _header(template_id: str, kdf: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": ENCRYPTED_FORMAT,
        "version": VERSION,
        "template_id": template_id,
        "cipher": "AES-256-GCM",
        "kdf": kdf,
    }


def _associated_data(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _derive(key: TemplateKey, kdf: dict[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if kdf.get("name") == "none":
        if key.raw_key is None:
            raise ValueError("this template was encrypted with a raw key, not a passphrase")
        return key.raw_key
    if kdf.get("name") != "scrypt":
        raise ValueError(f"unknown key derivation {kdf.get('name')!r}")
    if key.passphrase is None:
        raise ValueError("this template was encrypted with a passphrase, not a raw key")
    n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    if not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16) or not math.log2(n).is_integer():
        raise ValueError("scrypt parameters out of range")
    salt = base64.b64decode(kdf["salt"])
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(key.passphrase)


def _encrypt(plain: bytes, template_id: str, key: TemplateKey) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if key.raw_key is not None:
        kdf: dict[str, Any] = {"name": "none"}
    else:
        salt = base64.b64encode(os.urandom(16)).decode("ascii")
        kdf = {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt}
    header = _header(template_id, kdf)
    nonce = os.urandom(12)
    ciphertext = AESGCM(_derive(key, kdf)).encrypt(nonce, plain, _associated_data(header))
    envelope = {
        **header,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
    }
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


def _decrypt(path: Path, envelope: dict[str, Any], key: TemplateKey) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        header = _header(str(envelope["template_id"]), dict(envelope["kdf"]))
        if envelope.get("cipher") != header["cipher"]:
            raise ValueError(f"unknown cipher {envelope.get('cipher')!r}")
        secret = _derive(key, header["kdf"])
        nonce = base64.b64decode(envelope["nonce"], validate=True)
        ciphertext = base64.b64decode(envelope["ciphertext"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise TemplateError(f"{path}: cannot decrypt template ({error})") from None
    try:
        return AESGCM(secret).decrypt(nonce, ciphertext, _associated_data(header))
    except (InvalidTag, ValueError):
        raise WrongKeyError(
            f"{path}: cannot decrypt template: wrong key, or the file was altered"
        ) from None


def _atomic_write(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise TemplateError(f"{path}: cannot write template ({error.strerror})") from None
