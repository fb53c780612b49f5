"""A case file as text: parse an upload (YAML or JSON) into a ``CaseFile`` with every problem
named, and write one back in the same format ``hashwall notice`` saves.

``casefile.load_case`` reads a path and names only the first problem; a page can show all of
them, and must not write the upload to disk, hence this text-based twin of it. YAML aliases are
refused: a few lines of nested aliases expand to billions of nodes when validated.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hashwall.cases.casefile import CaseFile, case_data
from hashwall.nesting import TooDeep, check_yaml_depth, loads_json

#: Largest case file accepted (a real one is a few kilobytes).
MAX_CASE_BYTES = 256 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class CaseTextError(ValueError):
    """A case file that cannot be used; ``problems`` holds one line per bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class CaseText:
    """A validated case and the file name it is saved under (its format follows the name)."""

    case: CaseFile
    name: str

    @property
    def is_json(self) -> bool:
        return self.name.lower().endswith(".json")

    def dump(self) -> str:
        """The case in its file's format, as ``casefile.save_case`` writes it."""
        data = case_data(self.case)
        if self.is_json:
            return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        return str(_yaml().safe_dump(data, sort_keys=False, allow_unicode=True))

    @property
    def audit_name(self) -> str:
        """Where the CLI keeps the chain by default: ``CASE.audit.jsonl`` beside the case."""
        return f"{self.name}.audit.jsonl"


def _yaml() -> Any:
    # Imported by name, as casefile.py does, so mypy needs no PyYAML stubs.
    return importlib.import_module("yaml")


def file_name(uploaded: str | None, case_id: str) -> str:
    """A safe base name ending in .yaml, .yml or .json (``CASE_ID.yaml`` by default)."""
    base = _SAFE_NAME.sub("-", (uploaded or "").replace("\\", "/").rsplit("/", 1)[-1])
    base = base.strip(".-")[:100]
    if not base:
        return f"{case_id}.yaml"
    if not base.lower().endswith((".yaml", ".yml", ".json")):
        base += ".yaml"
    return base


def parse_case(data: bytes, name: str | None) -> CaseText:
    """Decode, parse and validate; :class:`CaseTextError` lists every problem found."""
    if len(data) > MAX_CASE_BYTES:
        raise CaseTextError([f"The case file is larger than {MAX_CASE_BYTES // 1024} KB."])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaseTextError(["The case file is not UTF-8 text (YAML or JSON)."]) from None
    as_json = (name or "").lower().endswith(".json") or text.lstrip().startswith("{")
    raw = _load_json(text) if as_json else _load_yaml(text)
    if not isinstance(raw, dict):
        raise CaseTextError(["The case file must hold a mapping (case_id, requester, hosts, …)."])
    case = validate(raw)
    chosen = file_name(name, case.case_id)
    if as_json and not chosen.lower().endswith(".json"):
        chosen = chosen.rsplit(".", 1)[0] + ".json"
    return CaseText(case, chosen)


def _load_json(text: str) -> Any:
    try:
        return loads_json(text)
    except TooDeep as error:
        raise CaseTextError([f"Not usable JSON: {error}."]) from None
    except json.JSONDecodeError as error:
        raise CaseTextError(
            [f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."]
        ) from None


def _load_yaml(text: str) -> Any:
    yaml = _yaml()
    try:
        check_yaml_depth(_no_aliases(yaml, yaml.parse(text, Loader=yaml.SafeLoader)))
        return yaml.safe_load(text)
    except TooDeep as error:
        raise CaseTextError([f"Not usable YAML: {error}."]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise CaseTextError([f"Not valid YAML: {problem}{where}."]) from None


def _no_aliases(yaml: Any, events: Iterable[Any]) -> Iterator[Any]:
    """The events, refusing aliases (a billion-laughs document is all aliases)."""
    for event in events:
        if isinstance(event, yaml.AliasEvent):
            raise CaseTextError(["YAML aliases (*name) are not accepted in a case file."])
        yield event


def validate(raw: dict[str, Any]) -> CaseFile:
    """The model, or every validation problem as ``field.path: message`` lines."""
    try:
        return CaseFile.model_validate(raw)
    except ValidationError as error:
        raise CaseTextError([_describe(item) for item in error.errors()]) from None


def _describe(item: Any) -> str:
    field = ".".join(str(part) for part in item["loc"]) or "case"
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "missing":
        message = "is required"
    return f"{field}: {message}"
