"""Template files: round trips (plain, raw key, passphrase), clear errors, tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.templates import (
    Template,
    TemplateKey,
    load_template,
    save_template,
    template_files,
    template_id_of,
    write_key_file,
)


def make_template(seed: int = 0) -> Template:
    rows = np.random.default_rng(seed).normal(size=(2, 128)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return Template.new(rows, "sface@test", "I consent.", "yunet@test")


def assert_same(a: Template, b: Template) -> None:
    assert a.template_id == b.template_id and a.model_id == b.model_id
    assert a.consent_statement == b.consent_statement and a.created == b.created
    assert np.array_equal(a.embeddings, b.embeddings)


def test_plain_round_trip(tmp_path: Path) -> None:
    template, path = make_template(), tmp_path / "t.template.json"
    save_template(template, path)
    assert_same(template, load_template(path))
    assert template_files([tmp_path]) == [path]


def test_raw_key_round_trip_and_ciphertext_hides_embeddings(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    write_key_file(key_file, TemplateKey.generate())
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = TemplateKey.from_file(key_file)
    assert key.raw_key is not None
    template, path = make_template(), tmp_path / "t.template.json"
    save_template(template, path, key)
    text = path.read_text()
    assert "embeddings" not in text and "I consent" not in text
    assert json.loads(text)["kdf"] == {"name": "none"}
    assert template_id_of(path) == template.template_id
    assert_same(template, load_template(path, key))


def test_passphrase_round_trip(tmp_path: Path) -> None:
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text("correct horse battery staple\n")
    key = TemplateKey.from_file(passphrase)
    assert key.passphrase == b"correct horse battery staple"
    template, path = make_template(), tmp_path / "t.template.json"
    save_template(template, path, key)
    assert json.loads(path.read_text())["kdf"]["name"] == "scrypt"
    assert_same(template, load_template(path, key))


def test_key_file_refuses_overwrite(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    write_key_file(key_file, TemplateKey.generate())
    with pytest.raises(TemplateError, match="refusing to overwrite"):
        write_key_file(key_file, TemplateKey.generate())


@pytest.mark.parametrize("kind", ["raw", "passphrase"])
def test_wrong_key_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "t.template.json"
    if kind == "raw":
        right, wrong = TemplateKey.generate(), TemplateKey.generate()
    else:
        right, wrong = TemplateKey(passphrase=b"right"), TemplateKey(passphrase=b"wrong")
    save_template(make_template(), path, right)
    with pytest.raises(
        TemplateError, match=r"t\.template\.json: cannot decrypt template: wrong key"
    ):
        load_template(path, wrong)


def test_key_of_the_other_kind_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.template.json"
    save_template(make_template(), path, TemplateKey.generate())
    with pytest.raises(TemplateError, match="encrypted with a raw key, not a passphrase"):
        load_template(path, TemplateKey(passphrase=b"x"))


def test_encrypted_without_key(tmp_path: Path) -> None:
    path = tmp_path / "t.template.json"
    save_template(make_template(), path, TemplateKey.generate())
    with pytest.raises(TemplateError, match="template is encrypted; give the key"):
        load_template(path)


def test_swapped_header_is_detected(tmp_path: Path) -> None:
    key = TemplateKey.generate()
    path = tmp_path / "t.template.json"
    save_template(make_template(), path, key)
    envelope = json.loads(path.read_text())
    envelope["template_id"] = "0" * 32
    path.write_text(json.dumps(envelope))
    with pytest.raises(TemplateError, match="wrong key, or the file was altered"):
        load_template(path, key)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "corrupt or truncated JSON"),
        (
            b'{"format": "hashwall-likeness-template", "version": 1, "embeddings": [[0.1',
            "truncated",
        ),
        (b"\x89PNG\r\n\x1a\n", "corrupt or truncated JSON"),
        (b'{"format": "something-else", "version": 1}', "unknown format"),
        (b'{"format": "hashwall-likeness-template", "version": 99}', "version 99 is unsupported"),
        (b'{"format": "hashwall-likeness-template", "version": 1}', "missing or malformed"),
    ],
)
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.template.json"
    path.write_bytes(content)
    with pytest.raises(TemplateError, match=message) as caught:
        load_template(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_embeddings_must_be_unit_vectors(tmp_path: Path) -> None:
    path = tmp_path / "t.template.json"
    save_template(make_template(), path)
    document = json.loads(path.read_text())
    document["embeddings"][0] = [2.0] * 128
    path.write_text(json.dumps(document))
    with pytest.raises(TemplateError, match="not unit vectors"):
        load_template(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="cannot read template"):
        load_template(tmp_path / "nope.template.json")
