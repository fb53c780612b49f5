"""The notices of a case, rendered in memory by ``hashwall.cases.notices``: grouped per host
for the page, and as the same ``HOST-FORM.txt/.eml/.pdf`` files ``hashwall notice generate``
writes, one at a time or all in one zip.
"""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from hashwall.cases.casefile import CaseFile, Host, NoticeForm
from hashwall.cases.notices import (
    Notice,
    NoticeError,
    forms_for,
    host_forms,
    render_all,
    to_email,
)
from hashwall.cases.pdf import render_pdf

EXTENSIONS = ("txt", "eml", "pdf")
ZIP_NAME = "notices.zip"
MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "eml": "message/rfc822",
    "pdf": "application/pdf",
    "zip": "application/zip",
}


@dataclass(frozen=True)
class HostNotices:
    index: int
    host: Host
    notices: list[Notice]


def host_problems(case: CaseFile) -> dict[int, str]:
    """Host number -> why its notices cannot be written (DMCA without copyright, UK, or a
    name that would give two hosts the same file names)."""
    problems: dict[int, str] = {}
    stems = Counter(_stem(host) for host in case.hosts)
    for index, host in enumerate(case.hosts):
        try:
            forms_for(case, host)
        except NoticeError as error:
            problems[index] = str(error)
        if stems[_stem(host)] > 1:
            problems.setdefault(
                index, f"{host.name}: another host has the same name; list each host once"
            )
    return problems


def case_problems(case: CaseFile) -> list[str]:
    """Why an uploaded case gives no notices, one line per field (empty when it does)."""
    problems = [f"hosts.{index}: {text}" for index, text in host_problems(case).items()]
    if not case.signature:
        problems.insert(0, "signature: is missing: add your typed full name to sign the notices")
    return problems


def _stem(host: Host) -> str:
    """The host part of its notices' file names (``Notice.stem`` without the form)."""
    return Notice(NoticeForm.DSA, host.name, None, "", "").stem.removesuffix("-dsa")


def by_host(case: CaseFile, now: datetime) -> tuple[list[HostNotices], list[Notice]]:
    """Every notice, in ``render_all``'s order: each host's grouped by host, then the ones
    for the whole case (the eSafety report). NoticeError if any fails."""
    notices = render_all(case, now)
    grouped, start = [], 0
    for index, host in enumerate(case.hosts):
        count = len(host_forms(case, host))
        grouped.append(HostNotices(index, host, notices[start : start + count]))
        start += count
    return grouped, notices[start:]


def notice_file(notice: Notice, case: CaseFile, now: datetime, extension: str) -> bytes:
    """One file as ``hashwall notice generate`` writes it (PdfError when no font fits)."""
    if extension == "txt":
        return notice.body.encode("utf-8")
    if extension == "eml":
        return bytes(to_email(notice, case, now))
    return render_pdf(notice.subject, notice.body, now)


def find(case: CaseFile, now: datetime, name: str) -> tuple[Notice, str] | None:
    """The notice and extension a file name like ``host-dsa.pdf`` stands for."""
    stem, _, extension = name.rpartition(".")
    if extension not in EXTENSIONS:
        return None
    notices = render_all(case, now)
    return next(((n, extension) for n in notices if n.stem == stem), None)


def zip_all(case: CaseFile, now: datetime) -> bytes:
    """Every notice in every format, in one zip made in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for notice in render_all(case, now):
            for extension in EXTENSIONS:
                content = notice_file(notice, case, now, extension)
                archive.writestr(f"{notice.stem}.{extension}", content)
    return buffer.getvalue()
