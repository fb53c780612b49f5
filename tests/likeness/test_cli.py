"""``hashwall likeness`` as a user drives it: enrol, screen (JSON lines, error lines), revoke."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hashwall.likeness.screen as screen_module
from hashwall.cli.app import app

from .conftest import ASTRONAUT, CAMERAMAN, ROCKET, FixedScore

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["likeness", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def enrolled(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "templates"
    folder.mkdir()
    output = folder / "me.template.json"
    code, out, err = run("enrol", ASTRONAUT, "--output", output, "--consent", "It is me.")
    assert code == 0, err
    (summary,) = jsonl(out)
    assert summary["photos"] == 1 and summary["encrypted"] is False
    return folder, str(summary["template_id"])


def test_enrol_screen_revoke(
    enrolled: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, template_id = enrolled
    # Positive path with a classifier double (never real intimate content).
    monkeypatch.setattr(screen_module, "default_intimate_classifier", lambda: FixedScore(0.97))
    code, out, err = run("screen", ASTRONAUT, CAMERAMAN, "--templates", folder)
    assert code == 0, err
    astro, camera = jsonl(out)
    assert astro["intimate"] is True and astro["content_type"] == "photo"
    (match,) = astro["matches"]
    assert match["template_id"] == template_id
    assert match["template_file"] == str(folder / "me.template.json")
    assert camera["matches"] == [] and camera["faces_compared"] == 1

    code, out, err = run("revoke", folder / "me.template.json")
    assert code == 0, err
    assert jsonl(out)[0]["template_id"] == template_id
    events = [json.loads(line)["event"] for line in (folder / "likeness-audit.jsonl").open()]
    assert events == ["template_enrolled", "template_revoked"]
    code, _, err = run("screen", ASTRONAUT, "--templates", folder)
    assert code == 2 and "no template files found" in err


def test_real_classifier_does_not_flag_an_ordinary_photo(enrolled: tuple[Path, str]) -> None:
    folder, _ = enrolled
    code, out, err = run("screen", ASTRONAUT, "--templates", folder)
    assert code == 0, err
    (record,) = jsonl(out)
    assert record["intimate"] is False and record["matches"] == []
    assert record["faces_compared"] == 0


def test_bad_files_get_one_line_each_and_exit_1(enrolled: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = enrolled
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    code, out, err = run("screen", broken, ROCKET, tmp_path / "missing.png", "--templates", folder)
    assert code == 1
    assert [r["path"] for r in jsonl(out)] == [str(ROCKET)]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert "broken.jpg" in lines[0] and "missing.png" in lines[1]


def test_encrypted_enrol_and_screen(tmp_path: Path) -> None:
    key = tmp_path / "key"
    assert run("keygen", key)[0] == 0
    output = tmp_path / "me.template.json"
    code, out, err = run("enrol", ASTRONAUT, "-o", output, "--encrypt-key-file", key)
    assert code == 0, err
    assert jsonl(out)[0]["encrypted"] is True
    code, _, err = run("screen", ROCKET, "--templates", output)
    assert code == 2 and "template is encrypted" in err
    code, out, err = run("screen", ROCKET, "--templates", output, "--key-file", key)
    assert code == 0, err
    wrong = tmp_path / "wrong"
    run("keygen", wrong)
    code, _, err = run("screen", ROCKET, "--templates", output, "--key-file", wrong)
    assert code == 2 and "wrong key" in err and len(err.strip().splitlines()) == 1


def test_enrol_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = run("enrol", ROCKET, "-o", tmp_path / "x.template.json")
    assert code == 2 and "no face found" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.template.json").exists()
    existing = tmp_path / "taken.template.json"
    existing.write_text("{}")
    code, _, err = run("enrol", ASTRONAUT, "-o", existing)
    assert code == 2 and "already exists" in err


def test_hash_command_does_not_import_the_ml_stack() -> None:
    code = (
        "import sys; from hashwall.cli.app import app; "
        "print(any(m.split('.')[0] in ('cv2', 'onnxruntime') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
