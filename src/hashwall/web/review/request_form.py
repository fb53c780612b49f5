"""The public removal-request form: form fields -> the intake's request, errors -> fields.

The form is a flat HTML form; the intake (``hashwall.cases.intake``) wants a nested request.
This module is the only place that knows both shapes: lists are one item per line, the
good-faith box is a checkbox, and the signature is the typed full name stamped with the time
the form arrives (the server's clock, so nobody can backdate it). Each intake error is shown
next to the form field it is about; several problems in one field show as the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData

from hashwall.cases.deadlines import DeadlineConfig, Jurisdiction, format_duration, request_deadline
from hashwall.cases.intake import FieldError

TEXT_FIELDS = (
    "requester_name",
    "contact_email",
    "relation",
    "authority_description",
    "urls",
    "catalog_ids",
    "hashes",
    "description",
    "jurisdiction",
    "signature",
)
#: Longest text accepted in any one form field (the intake has tighter limits per field).
MAX_FIELD_CHARS = 200_000
#: Where the requester lives: it picks the laws a decision cites, never the deadline (which
#: follows the platform's own regimes), so the labels promise no hours.
JURISDICTIONS = [
    (Jurisdiction.US.value, "United States"),
    (Jurisdiction.UK.value, "United Kingdom"),
    (Jurisdiction.AU.value, "Australia"),
    (Jurisdiction.EU.value, "European Union"),
]
#: Intake field names that are shown at another form field.
_FIELD_OF = {"signature": "signature", "request": "form"}
_FORM_FIELDS = {*TEXT_FIELDS, "good_faith", "upload", "content", "form"}


@dataclass(frozen=True)
class ParsedForm:
    values: dict[str, Any]  # what the person typed, to show the form again unchanged
    request: dict[str, Any]  # what the intake validates
    errors: dict[str, str]  # problems found before the intake (malformed hash lines)


def form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        raw = form.get(name)
        values[name] = raw[:MAX_FIELD_CHARS] if isinstance(raw, str) else ""
    values["good_faith"] = form.get("good_faith") is not None
    values["under_18"] = form.get("under_18") is not None
    return values


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _hashes(text: str) -> tuple[list[dict[str, str]], str | None]:
    """``type,value`` lines (``hashwall hash --format csv``), or the first bad line's error."""
    found = []
    for number, line in enumerate(_lines(text), start=1):
        signal_type, comma, value = line.partition(",")
        if not comma or not signal_type.strip() or not value.strip():
            return [], f"line {number} is not type,value (for example pdq,<64 hex digits>)"
        found.append({"signal_type": signal_type.strip(), "signal_value": value.strip()})
    return found, None


def parse(form: FormData, now: datetime) -> ParsedForm:
    values = form_values(form)
    hashes, hash_error = _hashes(values["hashes"])
    request: dict[str, Any] = {
        "requester_name": values["requester_name"],
        "contact_email": values["contact_email"].strip(),
        "urls": _lines(values["urls"]),
        "catalog_ids": _lines(values["catalog_ids"]),
        "hashes": hashes,
        "good_faith": values["good_faith"],
        "under_18": values["under_18"],
    }
    if values["signature"].strip() or not values["under_18"]:  # an under-18 report may be unsigned
        request["signature"] = {"full_name": values["signature"], "signed_at": now.isoformat()}
    for optional in ("relation", "jurisdiction", "authority_description", "description"):
        if values[optional].strip():
            request[optional] = values[optional]
    return ParsedForm(values, request, {"hashes": hash_error} if hash_error else {})


def field_errors(errors: list[FieldError]) -> dict[str, str]:
    """``{form field: message}``; ``hashes.2.signal_value`` is shown at ``hashes``."""
    shown: dict[str, str] = {}
    for error in errors:
        head = error.field.split(".")[0]
        field = _FIELD_OF.get(head, head)
        if field not in _FORM_FIELDS:
            field = "form"
        message = error.message
        if error.field.startswith("hashes.") and error.field[7:8].isdigit():
            message = f"line {int(error.field.split('.')[1]) + 1}: {message}"
        shown.setdefault(field, _sentence(field, message))
    return shown


def _sentence(field: str, message: str) -> str:
    """``is required`` reads oddly on its own next to a field: say which one."""
    labels = {
        "requester_name": "Your full name",
        "contact_email": "Your email address",
        "relation": "Who is in the picture",
        "jurisdiction": "Your jurisdiction",
        "signature": "Your typed signature",
        "good_faith": "The statement",
    }
    if message.startswith(("is ", "must ")) and field in labels:
        return f"{labels[field]} {message}."
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def promise(config: DeadlineConfig, now: datetime) -> str:
    """What this platform will actually do, from its own regimes - not a promise about "the
    legal deadline of your jurisdiction", which the requester's home does not set."""
    deadline = request_deadline(now, config)
    target = format_duration(deadline.due_at - now)
    text = f"We aim to decide within {_hours(target)} of receiving a complete request"
    if deadline.legal_due_at is not None:
        legal = format_duration(deadline.legal_due_at - now)
        text += f" (the law that applies to us allows at most {_hours(legal)})"
    return text + "."


def _hours(duration: str) -> str:
    """``48h`` -> ``48 hours``, ``90m`` -> ``90 minutes``."""
    number, unit = duration[:-1], duration[-1]
    return f"{number} {'hours' if unit == 'h' else 'minutes'}"
