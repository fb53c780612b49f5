"""The survivor's case file (YAML or JSON): who asks, what to remove, where it was found, and
what happened to each URL. ``hashwall notice`` reads it and writes tracking dates back.

Loading validates everything and names the first bad field in one line; saving writes a
temporary file and renames it, so an interrupted save never leaves half a case file. YAML
comments are not preserved when dates are written back (documented in docs/cases.md).
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hashwall.cases.deadlines import Jurisdiction
from hashwall.cases.intake import _EMAIL, _URL, ContentHash
from hashwall.nesting import check_yaml_depth, loads_json


class CaseFileError(ValueError):
    """A case file that cannot be used; the message is one line naming the file and field."""


class NoticeForm(enum.StrEnum):
    TAKE_IT_DOWN = "take_it_down"
    DMCA = "dmca"
    DSA = "dsa"
    ESAFETY = "esafety"


class Milestone(enum.StrEnum):
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Requester(_Strict):
    name: str = Field(min_length=1, max_length=200)
    email: str
    postal_address: str | None = None
    phone: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value


class UrlRecord(_Strict):
    url: str
    sent: date | None = None
    acknowledged: date | None = None
    removed: date | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("is not an http(s) URL")
        return value


class Host(_Strict):
    name: str = Field(min_length=1, max_length=200)
    contact: str | None = None  # the host's abuse / designated-agent email address
    jurisdiction: Jurisdiction
    forms: list[NoticeForm] | None = None  # None: chosen from the jurisdiction
    urls: list[UrlRecord] = Field(min_length=1)

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("is not an email address")
        return value


class CaseFile(_Strict):
    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    requester: Requester
    relation: Literal["depicted_person", "authorised"]
    depicted_person: str | None = None  # their name, when acting on their behalf
    authority: str | None = None  # required with relation: authorised
    # Where the person shown ordinarily lives (the requester, when it is them). AU adds the
    # eSafety report for every host (Online Safety Act 2021 (Cth) s 32), wherever the sites are.
    jurisdiction: Jurisdiction
    description: str = Field(min_length=1, max_length=4000)  # neutral description of the image
    consent_statement: str | None = None  # facts showing it was shared without consent
    owns_copyright: bool = False
    copyright_work: str | None = None  # e.g. "a photograph I took of myself in 2023"
    legal_reference: str | None = None  # optional: the national law the survivor relies on
    member_state: str | None = Field(default=None, max_length=100)  # whose law, for DSA notices
    # Taken when the person shown was under 18: the tool points to NCMEC's Take It Down and
    # Report Remove, and DSA notices may then leave out name and email (DSA Art. 16(2)(c)).
    under_18_when_taken: bool = False
    anonymous_dsa_notice: bool = False  # only with under_18_when_taken
    evidence_notes: str | None = None
    hashes: list[ContentHash] = Field(default_factory=list)
    signature: str | None = None  # typed full name: signs the notices electronically
    hosts: list[Host] = Field(min_length=1)

    @model_validator(mode="after")
    def _authority(self) -> CaseFile:
        if self.relation == "authorised" and not self.authority:
            raise ValueError("authority is required when relation is authorised")
        if self.anonymous_dsa_notice and not self.under_18_when_taken:
            raise ValueError(
                "anonymous_dsa_notice needs under_18_when_taken: true (DSA Art. 16(2)(c) lets "
                "a notice leave out name and email only for child sexual abuse offences)"
            )
        return self

    def find_url(self, url: str) -> UrlRecord:
        for host in self.hosts:
            for record in host.urls:
                if record.url == url.strip():
                    return record
        raise CaseFileError(f"{url}: not in the case file (add it under a host's urls first)")


def _yaml() -> Any:
    # Imported by name so this module type-checks without PyYAML's stubs.
    return importlib.import_module("yaml")


def _load_yaml(text: str) -> Any:
    """``safe_load`` after a depth check of the event stream (deep nesting would end in a
    RecursionError in PyYAML's composer)."""
    yaml = _yaml()
    check_yaml_depth(yaml.parse(text, Loader=yaml.SafeLoader))
    return yaml.safe_load(text)


def load_case(path: Path) -> CaseFile:
    """Read and validate a case file (``.json``, or YAML for anything else)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CaseFileError(f"{path}: cannot read ({type(error).__name__})") from None
    try:
        raw = loads_json(text) if path.suffix.lower() == ".json" else _load_yaml(text)
    except Exception as error:  # json and yaml raise different classes
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CaseFileError(f"{path}: not valid {_kind(path)}: {first}") from None
    if not isinstance(raw, dict):
        raise CaseFileError(f"{path}: must hold a mapping (case_id, requester, hosts, ...)")
    try:
        return CaseFile.model_validate(raw)
    except ValidationError as error:
        item = error.errors()[0]
        field = ".".join(str(part) for part in item["loc"]) or "case"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "is required"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise CaseFileError(f"{path}: {field}: {message}{more}") from None


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


#: Flags added after the first case files: written only when true, so a saved case file
#: stays readable by versions of hashwall that do not know them.
_LATER_FLAGS = ("under_18_when_taken", "anonymous_dsa_notice")


def case_data(case: CaseFile) -> dict[str, Any]:
    """The case as the plain mapping a case file holds (unset fields left out)."""
    data = case.model_dump(mode="json", exclude_none=True)
    for flag in _LATER_FLAGS:
        if data.get(flag) is False:
            del data[flag]
    return data


def save_case(case: CaseFile, path: Path) -> None:
    """Write atomically in the file's own format."""
    data = case_data(case)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = _yaml().safe_dump(data, sort_keys=False, allow_unicode=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def mark(case: CaseFile, url: str, milestone: Milestone, when: date) -> UrlRecord:
    """Record that a notice for ``url`` was sent / acknowledged / the content removed."""
    record = case.find_url(url)
    setattr(record, milestone.value, when)
    return record
