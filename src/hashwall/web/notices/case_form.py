"""The case form: flat HTML fields <-> the case file's nested shape, and each validation
problem back to the field it is about.

The case file model (``hashwall.cases.casefile``) does all the validating, so the form accepts
exactly what ``hashwall notice`` accepts. Hosts are numbered blocks (``hosts-0-name``, ...);
a block left entirely empty is ignored, so the page can always offer a spare one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from hashwall.cases.casefile import CaseFile, NoticeForm
from hashwall.cases.deadlines import Jurisdiction
from hashwall.web.notices.hashlines import parse_hashes

#: Top-level case file fields typed as they are (the rest are nested or need parsing).
CASE_TEXT = (
    "relation",
    "depicted_person",
    "authority",
    "jurisdiction",
    "description",
    "consent_statement",
    "copyright_work",
    "legal_reference",
    "member_state",
    "evidence_notes",
    "signature",
)
#: The case file's ``requester`` block, typed as ``requester_<key>`` fields.
REQUESTER_KEYS = ("name", "email", "phone", "postal_address")
#: Every text field of the form, derived from the two above so the lists cannot drift apart.
TEXT_FIELDS = ("case_id", *(f"requester_{key}" for key in REQUESTER_KEYS), *CASE_TEXT, "hashes")
#: The case file's yes/no fields, typed as checkboxes of the same name.
CHECKBOXES = ("owns_copyright", "under_18_when_taken", "anonymous_dsa_notice")
HOST_FIELDS = ("name", "contact", "jurisdiction", "urls")
MAX_HOSTS = 50
MAX_FIELD_CHARS = 100_000
LABELS = {
    "case_id": "The case reference",
    "requester_name": "Your full name",
    "requester_email": "Your email address",
    "relation": "Who is in the picture",
    "authority": "Your authority",
    "jurisdiction": "Where the person shown lives",
    "description": "The description of the image",
    "signature": "Your typed signature",
    "name": "The host's name",
    "contact": "The host's contact address",
    "urls": "The URLs",
}
AUTHORITY_REQUIRED = "Your authority is required when you act for someone else."
ANONYMOUS_NEEDS_UNDER_18 = (
    "Leaving your name and email out of EU notices is only possible when the person shown was "
    "under 18 when the image was taken (DSA Art. 16(2)(c))."
)
JURISDICTIONS = [
    (Jurisdiction.US.value, "United States"),
    (Jurisdiction.EU.value, "European Union"),
    (Jurisdiction.AU.value, "Australia"),
    (Jurisdiction.UK.value, "United Kingdom"),
]
FORM_NAMES = {
    NoticeForm.TAKE_IT_DOWN.value: "TAKE IT DOWN Act request",
    NoticeForm.DMCA.value: "DMCA §512(c)(3) notice",
    NoticeForm.DSA.value: "EU DSA Art. 16 notice",
    NoticeForm.ESAFETY.value: "eSafety image-based-abuse report text",
}


@dataclass(frozen=True)
class ParsedCase:
    values: dict[str, Any]  # what the person typed, to show the form again unchanged
    case: CaseFile | None
    errors: dict[str, str]  # form field -> message
    host_fields: list[int]  # form block number of each host in the case


def _text(form: FormData, name: str) -> str:
    raw = form.get(name)
    return raw[:MAX_FIELD_CHARS] if isinstance(raw, str) else ""


def form_values(form: FormData) -> dict[str, Any]:
    """Everything typed, hosts as a list of blocks (at least one, empty)."""
    values: dict[str, Any] = {name: _text(form, name) for name in TEXT_FIELDS}
    for name in CHECKBOXES:
        values[name] = form.get(name) is not None
    try:
        count = int(_text(form, "host_count") or "1")
    except ValueError:
        count = 1
    values["hosts"] = [_host_values(form, i) for i in range(max(1, min(count, MAX_HOSTS)))]
    return values


def _host_values(form: FormData, index: int) -> dict[str, Any]:
    host: dict[str, Any] = {f: _text(form, f"hosts-{index}-{f}") for f in HOST_FIELDS}
    forms = [str(v) for v in form.getlist(f"hosts-{index}-forms") if str(v) in FORM_NAMES]
    host["forms"] = forms
    return host


def empty_values() -> dict[str, Any]:
    return form_values(FormData())


def _is_blank(host: dict[str, Any]) -> bool:
    return not any(str(host[f]).strip() for f in HOST_FIELDS) and not host["forms"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _optional(target: dict[str, Any], key: str, value: str) -> None:
    """Blank optional fields are left out: the model then says ``is required`` where needed."""
    if value.strip():
        target[key] = value.strip()


def _host_raw(host: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {"urls": [{"url": url} for url in _lines(host["urls"])]}
    for key in ("name", "contact", "jurisdiction"):
        _optional(raw, key, host[key])
    if host["forms"]:
        raw["forms"] = host["forms"]
    return raw


def case_raw(values: dict[str, Any], today: date) -> tuple[dict[str, Any], list[int]]:
    """The case file mapping (without hashes) and the form block of each host in it."""
    requester: dict[str, Any] = {}
    for key in REQUESTER_KEYS:
        _optional(requester, key, values[f"requester_{key}"])
    raw: dict[str, Any] = {
        "case_id": values["case_id"].strip() or f"case-{today.isoformat()}",
        "requester": requester,
        **{name: values[name] for name in CHECKBOXES},
    }
    for key in CASE_TEXT:
        _optional(raw, key, values[key])
    blocks = [i for i, host in enumerate(values["hosts"]) if not _is_blank(host)]
    raw["hosts"] = [_host_raw(values["hosts"][i]) for i in blocks]
    return raw, blocks


def parse(form: FormData, today: date) -> ParsedCase:
    """Validate the whole form with the case file model; one message per bad field."""
    values = form_values(form)
    raw, blocks = case_raw(values, today)
    hashes = parse_hashes(values["hashes"])
    raw["hashes"] = hashes.hashes
    errors: dict[str, str] = {"hashes": hashes.error} if hashes.error else {}
    if not blocks:
        errors["hosts"] = "Add at least one host: its name, where it is based and the URLs."
    if values["relation"] == "authorised" and not values["authority"].strip():
        # The model checks this only once every field is valid; say it at the same time.
        errors["authority"] = AUTHORITY_REQUIRED
    if values["anonymous_dsa_notice"] and not values["under_18_when_taken"]:
        errors["anonymous_dsa_notice"] = ANONYMOUS_NEEDS_UNDER_18
    if not values["signature"].strip():  # optional in a case file, but notices need it
        errors["signature"] = "Your typed signature is required: it signs the notices."
    try:
        case = CaseFile.model_validate(raw)
    except ValidationError as error:
        for item in error.errors():
            field, message = _field_error(item, blocks, hashes.lines)
            errors.setdefault(field, message)
        return ParsedCase(values, None, errors, blocks)
    return ParsedCase(values, None if errors else case, errors, blocks)


def _field_error(item: Any, blocks: list[int], hash_lines: list[int]) -> tuple[str, str]:
    """``(form field, sentence)`` for one pydantic error."""
    loc = [str(part) for part in item["loc"]]
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] in ("missing", "string_too_short"):
        message = "is required"
    elif item["type"] == "string_pattern_mismatch":
        message = "may use only letters, digits, '.', '_' and '-'"
    elif item["type"] == "too_short" and loc[-1] == "urls":
        message = "needs at least one URL"
    if not loc and message.startswith("anonymous_dsa_notice"):
        return "anonymous_dsa_notice", ANONYMOUS_NEEDS_UNDER_18
    if not loc:  # the model's own check: authority with relation authorised
        return "authority", AUTHORITY_REQUIRED
    if loc[0] == "requester" and len(loc) > 1:
        return f"requester_{loc[1]}", _sentence(f"requester_{loc[1]}", message)
    if loc[0] == "hashes" and len(loc) > 1 and loc[1].isdigit():
        return "hashes", f"Line {hash_lines[int(loc[1])]}: {message}."
    if loc[0] == "hosts" and len(loc) > 2 and loc[1].isdigit():
        return _host_error(blocks[int(loc[1])], loc[2:], message)
    return loc[0], _sentence(loc[0], message)


def _host_error(block: int, loc: list[str], message: str) -> tuple[str, str]:
    field = loc[0]
    if field == "urls" and len(loc) > 1 and loc[1].isdigit():
        return f"hosts-{block}-urls", f"Line {int(loc[1]) + 1}: {message}."
    return f"hosts-{block}-{field}", _sentence(field, message)


def _sentence(field: str, message: str) -> str:
    """``is required`` reads oddly on its own next to a field: say which one."""
    if message.startswith(("is ", "must ", "needs ", "may ")) and field in LABELS:
        return f"{LABELS[field]} {message}."
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
