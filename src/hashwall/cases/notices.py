"""Outgoing notices: the right legal form per host, as plain text and as an ``.eml``.

Templates, not legal advice: each states only the elements the law names, in the survivor's
own words where facts are needed, and nothing is sent. Which forms apply:

* TAKE IT DOWN Act request (US hosts): the four elements of s. 3(a)(1)(B) - signature,
  identification and location, good-faith statement of non-consent, contact information;
* DMCA s. 512(c)(3) notice (US hosts) - **only** when the requester owns the copyright (a
  selfie); otherwise refused, because a false DMCA claim exposes the sender to s. 512(f);
* DSA Art. 16 notice (EU hosts): reasons, exact URLs, name and email, bona fide statement;
* eSafety image-based-abuse report text (Australia): for eSafety's online form, not the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from hashwall.cases.casefile import CaseFile, Host, NoticeForm
from hashwall.cases.clock import require_aware
from hashwall.cases.deadlines import Jurisdiction

FOOTER = "This notice was prepared from a hashwall template. The template is not legal advice."

DEFAULT_FORMS: dict[Jurisdiction, list[NoticeForm]] = {
    Jurisdiction.US: [NoticeForm.TAKE_IT_DOWN],
    Jurisdiction.EU: [NoticeForm.DSA],
    Jurisdiction.AU: [NoticeForm.ESAFETY],
    Jurisdiction.UK: [],
}


class NoticeError(ValueError):
    """A notice that must not be produced; the message says why and what to do instead."""


@dataclass(frozen=True)
class Notice:
    form: NoticeForm
    host: str
    recipient: str | None
    subject: str
    body: str

    @property
    def stem(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.host.lower())
        return f"{safe}-{self.form.value}"


def forms_for(case: CaseFile, host: Host) -> list[NoticeForm]:
    """The host's forms, checked: DMCA only for a copyright owner; UK needs explicit forms."""
    forms = list(host.forms) if host.forms is not None else list(DEFAULT_FORMS[host.jurisdiction])
    if host.forms is None and host.jurisdiction is Jurisdiction.US and case.owns_copyright:
        forms.append(NoticeForm.DMCA)
    if NoticeForm.DMCA in forms and not case.owns_copyright:
        raise NoticeError(
            f"{host.name}: DMCA notice refused: only the copyright owner (or their agent) may "
            "send one, and a false claim carries liability (17 U.S.C. 512(f)). Set "
            "owns_copyright: true only if the requester made the photo or video (e.g. a selfie); "
            "otherwise use take_it_down"
        )
    if not forms:
        raise NoticeError(
            f"{host.name}: no notice form is defined for {host.jurisdiction.value} hosts; "
            "list the forms to use under the host's forms: (take_it_down, dmca, dsa, esafety)"
        )
    return forms


def render_all(case: CaseFile, now: datetime) -> list[Notice]:
    """Every notice of the case; refuses the whole batch if one host's forms are wrong."""
    if not case.signature or not case.signature.strip():
        raise NoticeError(
            "signature is missing: add signature: with your typed full name to sign the notices"
        )
    plan = [(host, form) for host in case.hosts for form in forms_for(case, host)]
    return [render(case, host, form, now) for host, form in plan]


def render(case: CaseFile, host: Host, form: NoticeForm, now: datetime) -> Notice:
    now = require_aware(now, "now")
    builders = {
        NoticeForm.TAKE_IT_DOWN: _take_it_down,
        NoticeForm.DMCA: _dmca,
        NoticeForm.DSA: _dsa,
        NoticeForm.ESAFETY: _esafety,
    }
    subject, lines = builders[form](case, host, now)
    body = "\n".join([*lines, "", f"Reference: {case.case_id}", "--", FOOTER]) + "\n"
    recipient = None if form is NoticeForm.ESAFETY else host.contact
    return Notice(form, host.name, recipient, subject, body)


def _bullets(items: list[str]) -> list[str]:
    return [f"  - {item}" for item in items]


def _urls(host: Host) -> list[str]:
    return _bullets([record.url for record in host.urls])


def _hashes(case: CaseFile) -> list[str]:
    if not case.hashes:
        return []
    return [
        "Digital fingerprints (hashes) of the image, which can help find identical and "
        "near-identical copies (PDQ is Meta's open perceptual hash):",
        *_bullets([f"{h.signal_type}: {h.signal_value}" for h in case.hashes]),
    ]


def _contact(case: CaseFile) -> list[str]:
    person = case.requester
    lines = [f"Name: {person.name}", f"Email: {person.email}"]
    if person.phone:
        lines.append(f"Telephone: {person.phone}")
    if person.postal_address:
        lines.append(f"Postal address: {person.postal_address}")
    return lines


def _who(case: CaseFile) -> str:
    if case.relation == "depicted_person":
        return "I am the person shown in the image."
    whom = case.depicted_person or "the person shown in the image"
    return f"I am authorised to act on behalf of {whom}: {case.authority}"


def _signature(case: CaseFile, now: datetime) -> list[str]:
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    return [f"/s/ {case.signature}", f"Electronic signature (typed full name), {stamp}"]


def _paragraph(text: str | None) -> list[str]:
    return [text.strip()] if text and text.strip() else []


def _take_it_down(case: CaseFile, host: Host, now: datetime) -> tuple[str, list[str]]:
    subject = "Removal request under the TAKE IT DOWN Act (non-consensual intimate image)"
    lines = [
        f"To: {host.name}",
        "",
        "REMOVAL REQUEST - TAKE IT DOWN Act, section 3 (notice and removal of nonconsensual "
        "intimate visual depictions)",
        "",
        "I request the removal of an intimate visual depiction published on your platform "
        "without consent.",
        "",
        "1. Identification and location of the intimate visual depiction",
        case.description,
        "It can be found at:",
        *_urls(host),
        *_hashes(case),
        "",
        "2. Statement of good faith",
        "I have a good faith belief that the intimate visual depiction identified above is not "
        "consensual.",
        *_paragraph(case.consent_statement),
        "",
        "3. Contact information",
        _who(case),
        *_contact(case),
        "",
        "4. Signature",
        *_signature(case, now),
        "",
        "Section 3 of the TAKE IT DOWN Act requires a covered platform, upon receiving a valid "
        "request, to remove the depiction as soon as possible, but not later than 48 hours "
        "after receiving it, and to make reasonable efforts to identify and remove any known "
        "identical copies. Please confirm receipt and tell me when the depiction and its "
        "copies have been removed.",
    ]
    return subject, lines


def _dmca(case: CaseFile, host: Host, now: datetime) -> tuple[str, list[str]]:
    subject = "DMCA notice of claimed infringement (17 U.S.C. 512(c)(3))"
    work = case.copyright_work or f"An original photograph or video I made: {case.description}"
    authority = (
        "I am the owner of the copyright in the work."
        if case.relation == "depicted_person"
        else f"I am authorised to act on behalf of the copyright owner: {case.authority}"
    )
    lines = [
        f"To: the designated agent of {host.name}",
        "",
        "NOTICE OF CLAIMED INFRINGEMENT under 17 U.S.C. 512(c)(3)",
        "",
        "1. The copyrighted work",
        work,
        "",
        "2. The infringing material and where it is",
        "The following copies of the work were published without my authorisation:",
        *_urls(host),
        *_hashes(case),
        "",
        "3. Contact information",
        authority,
        *_contact(case),
        "",
        "4. Good-faith statement",
        "I have a good faith belief that use of the material in the manner complained of is "
        "not authorized by the copyright owner, its agent, or the law.",
        "",
        "5. Statement of accuracy and authority",
        "The information in this notification is accurate, and under penalty of perjury, I am "
        "authorized to act on behalf of the owner of an exclusive right that is allegedly "
        "infringed.",
        "",
        "6. Signature",
        *_signature(case, now),
        "",
        "Please remove or disable access to the material expeditiously.",
    ]
    return subject, lines


def _dsa(case: CaseFile, host: Host, now: datetime) -> tuple[str, list[str]]:
    subject = "Notice of illegal content under Article 16 of the Digital Services Act"
    legal = case.legal_reference or (
        "Sharing intimate images without consent is a criminal offence in many Member States, "
        "and Article 5 of Directive (EU) 2024/1385 requires every Member State to make it one."
    )
    lines = [
        f"To: {host.name}",
        "",
        "NOTICE under Article 16 of Regulation (EU) 2022/2065 (Digital Services Act)",
        "",
        "(a) Why this content is illegal",
        f"{case.description} It is an intimate image shared without the consent of the person "
        "shown.",
        *_paragraph(case.consent_statement),
        legal,
        _who(case),
        "",
        "(b) Exact location of the content",
        *_urls(host),
        *_hashes(case),
        "",
        "(c) Name and email address of the person submitting this notice",
        f"Name: {case.requester.name}",
        f"Email: {case.requester.email}",
        "",
        "(d) Statement",
        "I confirm my bona fide belief that the information and allegations contained in this "
        "notice are accurate and complete.",
        "",
        *_signature(case, now),
        "",
        "Please confirm receipt of this notice and inform me of your decision and of the "
        "possibilities for redress, as Article 16(5) of the Digital Services Act provides.",
    ]
    return subject, lines


def _esafety(case: CaseFile, host: Host, now: datetime) -> tuple[str, list[str]]:
    subject = f"Image-based abuse report: {host.name}"
    lines = [
        "Report to the eSafety Commissioner (Australia) - image-based abuse",
        "Paste into eSafety's online report form (esafety.gov.au/report); eSafety does not take "
        "these reports by email.",
        "",
        "Who is reporting",
        _who(case),
        *_contact(case),
        "",
        "What happened",
        case.description,
        "The image was shared without the consent of the person shown.",
        *_paragraph(case.consent_statement),
        "",
        f"Where it is: {host.name}",
        *_urls(host),
        *_hashes(case),
        *(["", "Evidence I have kept", case.evidence_notes] if case.evidence_notes else []),
        "",
        "Declaration",
        "The information in this report is true and correct to the best of my knowledge.",
        *_signature(case, now),
        "",
        "Under the Online Safety Act 2021 (Cth), eSafety can give a service a removal notice "
        "requiring an intimate image to be removed within 24 hours.",
    ]
    return subject, lines


def to_email(notice: Notice, case: CaseFile, now: datetime) -> EmailMessage:
    """An unsent ``.eml``: the survivor opens it in their mail program and sends it there."""
    message = EmailMessage()
    message["Subject"] = f"{notice.subject} - {case.case_id}"
    message["From"] = formataddr((case.requester.name, case.requester.email))
    if notice.recipient:
        message["To"] = notice.recipient
    message["Date"] = format_datetime(require_aware(now, "now"))
    message["X-Unsent"] = "1"  # opens as a draft in Outlook and others
    message.set_content(notice.body)
    return message
