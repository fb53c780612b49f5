"""What the result page carries from one request to the next, since the server keeps nothing:
the case file and its audit chain, base64-encoded in hidden fields (so every byte of the chain
survives the browser's newline normalisation), validated again on every request.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.datastructures import FormData

from hashwall.web.notices.casetext import CaseText, CaseTextError, parse_case
from hashwall.web.notices.chain import Chain, ChainError, parse_chain

CASE_FIELD = "carried_case"
NAME_FIELD = "carried_name"
AUDIT_FIELD = "carried_audit"
ORIGIN_FIELD = "carried_origin"  # "uploaded": the survivor brought a chain; "new": started here


class CarriedError(ValueError):
    """The page's hidden fields are missing or damaged (an old or edited page)."""


@dataclass(frozen=True)
class Carried:
    case: CaseText
    chain: Chain
    origin: str

    def fields(self) -> dict[str, str]:
        """The hidden fields of the result page."""
        return {
            CASE_FIELD: _encode(self.case.dump()),
            NAME_FIELD: self.case.name,
            AUDIT_FIELD: _encode(self.chain.text),
            ORIGIN_FIELD: self.origin,
        }


def _encode(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _decode(form: FormData, name: str) -> bytes:
    value = form.get(name)
    if not isinstance(value, str):
        raise CarriedError(f"{name} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CarriedError(f"{name} is damaged") from None


def from_form(form: FormData) -> Carried:
    """The case and chain a result page sent back; CarriedError if they do not parse."""
    name = form.get(NAME_FIELD)
    origin = "uploaded" if form.get(ORIGIN_FIELD) == "uploaded" else "new"
    try:
        case = parse_case(_decode(form, CASE_FIELD), name if isinstance(name, str) else None)
        chain = parse_chain(_decode(form, AUDIT_FIELD))
    except (CaseTextError, ChainError) as error:
        raise CarriedError(str(error)) from None
    return Carried(case, chain, origin)
