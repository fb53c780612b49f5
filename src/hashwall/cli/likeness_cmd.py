"""``hashwall likeness``: enrol your own face, screen intimate content for enrolled faces, revoke.

The ML stack (OpenCV, onnxruntime, model weights) is imported inside the commands, so the rest of
the CLI (``hashwall hash`` in particular) never loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashwall.cli.output import EXIT_SOME_FAILED, EXIT_USAGE, json_line, report_error
from hashwall.cli.server_options import DatabaseUrlOption, DataDirOption, server_settings

likeness_app = typer.Typer(
    name="likeness",
    help=(
        "Likeness protection: enrol photos of YOUR OWN face (with your consent) into a template, "
        "then screen intimate content for enrolled faces to catch sexual deepfakes. Faces are "
        "only ever detected in content the intimate-content model flags.\n\n"
        "Needs the likeness extra: pip install 'hashwall[likeness]'."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file",
        help="Key for encrypted templates: a file made by 'hashwall likeness keygen', or a "
        "passphrase file (scrypt-derived key).",
        dir_okay=False,
    ),
]


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    report_error(message)
    return typer.Exit(code)


@likeness_app.command("enrol")
def enrol_command(
    photos: Annotated[list[Path], typer.Argument(help="Photos of you, one face in each.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Template file to write (never overwritten).")
    ],
    consent: Annotated[
        str | None,
        typer.Option("--consent", help="Your consent statement, stored in the template."),
    ] = None,
    encrypt_key_file: Annotated[
        Path | None,
        typer.Option(
            "--encrypt-key-file",
            help="Encrypt the template (AES-256-GCM) with this key or passphrase file.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Make a face template from photos of yourself. The photos are not stored.

    Example: hashwall likeness enrol me1.jpg me2.jpg -o me.template.json --encrypt-key-file key
    """
    from hashwall.likeness.enrol import DEFAULT_CONSENT, enrol_photos
    from hashwall.likeness.errors import LikenessError
    from hashwall.likeness.models import default_face_models
    from hashwall.likeness.revocation import append_audit, default_audit_log
    from hashwall.likeness.templates import TemplateKey, save_template

    if output.exists():
        raise _fail(f"{output}: already exists; choose another name or revoke it first")
    try:
        key = TemplateKey.from_file(encrypt_key_file) if encrypt_key_file else None
        template = enrol_photos(photos, default_face_models(), consent or DEFAULT_CONSENT)
        save_template(template, output, key)
        append_audit(
            default_audit_log(output),
            "template_enrolled",
            template_id=template.template_id,
            file=output.name,
            photos=len(photos),
            encrypted=key is not None,
        )
    except LikenessError as error:
        raise _fail(str(error)) from None
    typer.echo(
        json_line(
            {
                "template_id": template.template_id,
                "output": str(output),
                "photos": len(photos),
                "model": template.model_id,
                "encrypted": key is not None,
            }
        )
    )


@likeness_app.command("screen")
def screen_command(
    paths: Annotated[list[Path], typer.Argument(help="Images, videos or folders to screen.")],
    templates: Annotated[
        list[Path],
        typer.Option(
            "--templates", "-t", help="Template files or folders of *.template.json (repeatable)."
        ),
    ],
    key_file: KeyFileOption = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Face similarity needed for a match (cosine).", min=-1),
    ] = None,
    intimate_threshold: Annotated[
        float | None,
        typer.Option(
            "--intimate-threshold",
            help="Intimate score from which faces are compared.",
            min=0.0,
            max=1.0,
        ),
    ] = None,
) -> None:
    """Screen files: intimate score, and only for intimate content, enrolled faces found.

    One JSON line per file on stdout; one line per unreadable file on stderr (exit code 1).
    Example: hashwall likeness screen uploads/ --templates enrolled/
    """
    from hashwall.likeness.errors import LikenessError
    from hashwall.likeness.matching import DEFAULT_THRESHOLD
    from hashwall.likeness.screen import DEFAULT_INTIMATE_THRESHOLD, Screener
    from hashwall.likeness.templates import TemplateKey, load_template, template_files
    from hashwall.media import MediaError
    from hashwall.media.sniff import MEDIA_EXTENSIONS

    try:
        key = TemplateKey.from_file(key_file) if key_file else None
        files = template_files(templates)
        if not files:
            raise _fail("no template files found (looked for *.template.json)")
        loaded = [load_template(path, key) for path in files]
        screener = Screener(
            loaded,
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            intimate_threshold=(
                DEFAULT_INTIMATE_THRESHOLD if intimate_threshold is None else intimate_threshold
            ),
        )
    except LikenessError as error:
        raise _fail(str(error)) from None
    source = {template.template_id: str(path) for template, path in zip(loaded, files, strict=True)}
    failed = 0
    for path in _walk(paths, MEDIA_EXTENSIONS):
        try:
            kind, result = screener.screen_path(path)
        except (MediaError, LikenessError) as error:
            report_error(str(error) if isinstance(error, MediaError) else f"{path}: {error}")
            failed += 1
            continue
        record = {"path": str(path), "content_type": str(kind), **result.to_json()}
        for match in record["matches"]:
            match["template_file"] = source[match["template_id"]]
        typer.echo(json_line(record))
    if failed:
        raise typer.Exit(EXIT_SOME_FAILED)


@likeness_app.command("revoke")
def revoke_command(
    template: Annotated[Path, typer.Argument(help="Template file to delete.", dir_okay=False)],
    audit_log: Annotated[
        Path | None,
        typer.Option("--audit-log", help="JSON-lines audit log (default: beside the template)."),
    ] = None,
) -> None:
    """Revoke a template: overwrite and delete the file, and log the revocation."""
    from hashwall.likeness.errors import LikenessError
    from hashwall.likeness.revocation import default_audit_log, revoke

    log = audit_log or default_audit_log(template)
    try:
        template_id = revoke(template, log)
    except LikenessError as error:
        raise _fail(str(error)) from None
    typer.echo(
        json_line({"revoked": str(template), "template_id": template_id, "audit_log": str(log)})
    )


@likeness_app.command("keygen")
def keygen_command(
    key_file: Annotated[Path, typer.Argument(help="Where to write the new key (mode 0600).")],
) -> None:
    """Write a new random 256-bit key for encrypting templates. Keep it apart from templates."""
    from hashwall.likeness.errors import LikenessError
    from hashwall.likeness.templates import TemplateKey, write_key_file

    try:
        write_key_file(key_file, TemplateKey.generate())
    except LikenessError as error:
        raise _fail(str(error)) from None
    typer.echo(json_line({"key_file": str(key_file)}))


@likeness_app.command("rotate-key")
def rotate_key_command(
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Re-encrypt every template the service stores under its current key (admin, server side).

    Reads HASHWALL_LIKENESS_KEY (the new key) and HASHWALL_LIKENESS_PREVIOUS_KEYS (old keys,
    comma-separated) like the service. All templates are rewritten in one transaction, each with
    a 'key_rotated' audit row; if any template opens with none of the keys, nothing is changed
    (exit 1). Afterwards the previous keys are no longer needed: remove them from the settings.
    """
    settings = server_settings(database_url, data_dir)
    from sqlalchemy.exc import SQLAlchemyError

    from hashwall.service.likeness.keys import service_keyring
    from hashwall.service.likeness.rotation import RotationError, rotate_templates
    from hashwall.store import create_database

    keys = service_keyring(settings)
    if keys is None:
        raise _fail("HASHWALL_LIKENESS_KEY is not set: there is no key to rotate to")
    db = create_database(settings.resolved_database_url())
    try:
        report = rotate_templates(db, keys, "cli")
    except RotationError as error:
        raise _fail(str(error), EXIT_SOME_FAILED) from None
    except SQLAlchemyError as error:
        raise _fail(f"database error: {error.__class__.__name__}", EXIT_SOME_FAILED) from None
    finally:
        db.dispose()
    typer.echo(json_line({"rotated": report.rotated, "already_current": report.already_current}))


def _walk(paths: list[Path], extensions: frozenset[str]) -> list[Path]:
    """Files as named, plus media files (by extension) inside named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
            )
        else:
            found.append(path)
    return found
