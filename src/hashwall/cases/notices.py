"""Outgoing notices: the right legal form per host, as plain text and as an ``.eml``.

Templates, not legal advice: each states only the elements the law names, in the survivor's
own words where facts are needed, and nothing is sent. Sources for every legal statement:
docs/legal.md ("Notice templates"). Which forms apply:

* TAKE IT DOWN request (US hosts): the four elements of 47 U.S.C. § 223a(a)(1)(B) - signature,
  identification and location, the depicted person's good-faith statement of non-consent,
  contact information. It goes through the platform's own removal form: the 48-hour duty of
  § 223a(a)(3) is for requests made through that process, so the ``.eml`` has no recipient;
* DMCA s. 512(c)(3) notice (US hosts) - **only** when the requester owns the copyright (a
  selfie); otherwise refused, because a false DMCA claim exposes the sender to s. 512(f);
* DSA Art. 16 notice (EU hosts): reasons, exact URLs, name and email (which Art. 16(2)(c) lets
  a notice about child sexual abuse leave out), bona fide statement;
* eSafety image-based-abuse report text (Australia), one per case, for eSafety's online form:
  for every host when the person shown lives in Australia, else for Australian hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from hashwall.cases.casefile import CaseFile, Host, NoticeForm
from hashwall.cases.clock import require_aware
from hashwall.cases.deadlines import Jurisdiction

FOOTER = "This notice was prepared from a hashwall template. The template is not legal advice."

#: The forms a host gets when its case file lists none. eSafety is not addressed to a host:
#: the host's URLs go into the case's single eSafety report (see ``esafety_hosts``).
DEFAULT_FORMS: dict[Jurisdiction, list[NoticeForm]] = {
    Jurisdiction.US: [NoticeForm.TAKE_IT_DOWN],
    Jurisdiction.EU: [NoticeForm.DSA],
    Jurisdiction.AU: [NoticeForm.ESAFETY],
    Jurisdiction.UK: [],
}
#: File stem and ``Notice.host`` of the case's eSafety report (no host has the stem
#: ``esafety-report``, as host notices end in ``-take_it_down``, ``-dmca`` or ``-dsa``).
ESAFETY_STEM = "esafety-report"
ESAFETY_NAME = "eSafety Commissioner (Australia)"
ESAFETY_FORM_URL = "esafety.gov.au/report"
TAKE_IT_DOWN_CODE = "47 U.S.C. § 223a (added by the TAKE IT DOWN Act, Pub. L. 119-12, s. 3)"
FTC_PAGE = "https://TakeItDown.ftc.gov"
COPYRIGHT_OFFICE_AGENTS = "https://dmca.copyright.gov/"
NCMEC_TAKE_IT_DOWN = "https://takeitdown.ncmec.org/"
REPORT_REMOVE = (
    "https://www.childline.org.uk/info-advice/bullying-abuse-safety/online-mobile-safety/"
    "remove-nude-image-shared-online/"
)
REVENGE_PORN_HELPLINE = "https://revengepornhelpline.org.uk/"


class NoticeError(ValueError):
    """A notice that must not be produced; the message says why and what to do instead."""


@dataclass(frozen=True)
class Notice:
    form: NoticeForm
    host: str
    recipient: str | None
    subject: str
    body: str
    #: How the requester sends it (shown by the CLI and the web page, not part of the text).
    instructions: str = ""

    @property
    def stem(self) -> str:
        if self.form is NoticeForm.ESAFETY:
            return ESAFETY_STEM
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in self.host.lower())
        return f"{safe}-{self.form.value}"


def forms_for(case: CaseFile, host: Host) -> list[NoticeForm]:
    """The host's forms, checked: DMCA only for a copyright owner; a UK host needs explicit
    forms unless the eSafety report covers it. ``ESAFETY`` in the list means that the host's
    URLs go into the case's eSafety report (always, when the person shown lives in Australia).
    """
    forms = list(host.forms) if host.forms is not None else list(DEFAULT_FORMS[host.jurisdiction])
    if host.forms is None and host.jurisdiction is Jurisdiction.US and case.owns_copyright:
        forms.append(NoticeForm.DMCA)
    if case.jurisdiction is Jurisdiction.AU and NoticeForm.ESAFETY not in forms:
        forms.append(NoticeForm.ESAFETY)
    if NoticeForm.DMCA in forms and not case.owns_copyright:
        raise NoticeError(
            f"{host.name}: DMCA notice refused: only the copyright owner (or their agent) may "
            "send one, and a false claim carries liability (17 U.S.C. 512(f)). Set "
            "owns_copyright: true only if the requester made the photo or video (e.g. a selfie); "
            "otherwise use take_it_down"
        )
    if not forms and host.jurisdiction is Jurisdiction.UK:
        raise NoticeError(
            f"{host.name}: no notice form is defined for UK hosts: hashwall has no UK legal "
            "form. Use the site's own reporting process (its report button or contact page). "
            f"Adults can get free help from the Revenge Porn Helpline ({REVENGE_PORN_HELPLINE}); "
            f"under-18s can use Report Remove by the IWF and Childline ({REPORT_REMOVE}). To "
            "write a notice anyway, list the forms under the host's forms: (take_it_down, dmca, "
            "dsa, esafety)"
        )
    if not forms:
        raise NoticeError(
            f"{host.name}: no notice form is defined for {host.jurisdiction.value} hosts; "
            "list the forms to use under the host's forms: (take_it_down, dmca, dsa, esafety)"
        )
    return forms


def host_forms(case: CaseFile, host: Host) -> list[NoticeForm]:
    """The forms addressed to the host itself (``forms_for`` without the eSafety report)."""
    return [form for form in forms_for(case, host) if form is not NoticeForm.ESAFETY]


def esafety_hosts(case: CaseFile) -> list[Host]:
    """The hosts whose URLs go into the eSafety report (none: no report)."""
    return [host for host in case.hosts if NoticeForm.ESAFETY in forms_for(case, host)]


def render_all(case: CaseFile, now: datetime) -> list[Notice]:
    """Every notice of the case: each host's, in order, then the eSafety report if any.
    Refuses the whole batch if one host's forms are wrong."""
    if not case.signature or not case.signature.strip():
        raise NoticeError(
            "signature is missing: add signature: with your typed full name to sign the notices"
        )
    now = require_aware(now, "now")
    plan = [(host, form) for host in case.hosts for form in host_forms(case, host)]
    notices = [render(case, host, form, now) for host, form in plan]
    hosts = esafety_hosts(case)
    if hosts:
        notices.append(_finish(case, _esafety(case, hosts, now)))
    return notices


def render(case: CaseFile, host: Host, form: NoticeForm, now: datetime) -> Notice:
    """One host's notice (for ``ESAFETY``: the eSafety report for this host alone)."""
    now = require_aware(now, "now")
    if form is NoticeForm.ESAFETY:
        return _finish(case, _esafety(case, [host], now))
    builders = {
        NoticeForm.TAKE_IT_DOWN: _take_it_down,
        NoticeForm.DMCA: _dmca,
        NoticeForm.DSA: _dsa,
    }
    return _finish(case, builders[form](case, host, now))


def is_anonymous(notice: Notice, case: CaseFile) -> bool:
    """A DSA notice that leaves out who sends it (Art. 16(2)(c)): no name, email, signature,
    case reference (it may hold a name) or ``From`` address."""
    return notice.form is NoticeForm.DSA and case.anonymous_dsa_notice and case.under_18_when_taken


def _finish(case: CaseFile, notice: Notice) -> Notice:
    reference = [] if is_anonymous(notice, case) else [f"Reference: {case.case_id}"]
    body = "\n".join([notice.body, "", *reference, "--", FOOTER]) + "\n"
    return replace(notice, body=body)


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


def _depicted(case: CaseFile) -> str:
    """Who is shown, as the subject of a sentence about them (for an authorised sender)."""
    if case.depicted_person:
        return f"{case.depicted_person}, the person shown,"
    return "The person shown"


def _signature(case: CaseFile, now: datetime) -> list[str]:
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    return [f"/s/ {case.signature}", f"Electronic signature (typed full name), {stamp}"]


def _paragraph(text: str | None) -> list[str]:
    return [text.strip()] if text and text.strip() else []


def _take_it_down(case: CaseFile, host: Host, now: datetime) -> Notice:
    subject = "Removal request under 47 U.S.C. § 223a (TAKE IT DOWN Act)"
    if case.relation == "depicted_person":
        belief = (
            "I am the person shown, and I have a good faith belief that the intimate visual "
            "depiction identified above is not consensual."
        )
    else:
        belief = (
            f"{_depicted(case)} has a good faith belief that the intimate visual depiction "
            "identified above is not consensual."
        )
    facts = _paragraph(case.consent_statement)
    lines = [
        f"How to send (a note for you, not part of the request): submit it through "
        f"{host.name}'s own TAKE IT DOWN removal form (the notice and removal process a "
        "covered platform must offer) and paste the text below this note. The 48-hour removal "
        "duty applies to requests made through that process, not to an email to any abuse "
        "address.",
        "----",
        "",
        f"To: {host.name}",
        "",
        "REMOVAL REQUEST - notice and removal of nonconsensual intimate visual depictions, "
        f"{TAKE_IT_DOWN_CODE}",
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
        belief,
        *(["Information showing that it was published without consent:", *facts] if facts else []),
        "",
        "3. Contact information",
        _who(case),
        *_contact(case),
        "",
        "4. Signature",
        *_signature(case, now),
        "",
        "Under 47 U.S.C. § 223a(a)(3), a covered platform that receives a valid request through "
        "its notice and removal process must, as soon as possible but not later than 48 hours "
        "after receiving it, remove the depiction and make reasonable efforts to identify and "
        "remove any known identical copies. This duty applies from 19 May 2026, and the "
        "Federal Trade Commission enforces it. Please confirm receipt and tell me when the "
        "depiction and its copies have been removed.",
    ]
    instructions = (
        f"Submit through {host.name}'s TAKE IT DOWN removal form (its notice and removal "
        "process) and paste this text; an email to an abuse address may not start the 48-hour "
        "clock. The .eml has no recipient: it is a draft to keep, or a fallback if the site "
        "offers no form" + (f" (its contact: {host.contact})." if host.contact else ".")
    )
    return Notice(NoticeForm.TAKE_IT_DOWN, host.name, None, subject, "\n".join(lines), instructions)


def _dmca(case: CaseFile, host: Host, now: datetime) -> Notice:
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
    instructions = (
        f"Send to {host.name}'s DMCA designated agent"
        + (f" ({host.contact}, if that is the agent)" if host.contact else "")
        + f"; the U.S. Copyright Office's directory lists each site's agent: "
        f"{COPYRIGHT_OFFICE_AGENTS}"
    )
    return Notice(NoticeForm.DMCA, host.name, host.contact, subject, "\n".join(lines), instructions)


def _dsa_legal_basis(case: CaseFile) -> list[str]:
    if case.legal_reference and case.legal_reference.strip():
        return [f"Legal basis: {case.legal_reference.strip()}"]
    where = case.member_state or "the Member State concerned"
    return [
        f"Legal basis: the national provision of {where} that makes the non-consensual sharing "
        "of intimate images an offence (I have not cited the provision itself). Directive (EU) "
        "2024/1385 does not itself make this an offence: its Article 5 obliges Member States "
        "to criminalise it by 14 June 2027."
    ]


def _dsa(case: CaseFile, host: Host, now: datetime) -> Notice:
    subject = "Notice of illegal content under Article 16 of the Digital Services Act"
    anonymous = case.anonymous_dsa_notice and case.under_18_when_taken
    minor = (
        [
            "The person shown was under 18 when it was taken, so it may be child sexual abuse "
            "material, which Article 5 of Directive 2011/93/EU requires every Member State to "
            "make an offence."
        ]
        if case.under_18_when_taken
        else []
    )
    if anonymous:
        contact = [
            "(c) Name and email address",
            "Not given. Article 16(2)(c) of the Digital Services Act does not require them for "
            "information considered to involve one of the offences referred to in Articles 3 to "
            "7 of Directive 2011/93/EU (sexual abuse and sexual exploitation of children and "
            "child sexual abuse material).",
        ]
        closing = [
            "This notice gives no contact details, so no confirmation of receipt or decision "
            "can be sent. Article 16(6) of the Digital Services Act requires it to be processed "
            "in a timely, diligent, non-arbitrary and objective manner."
        ]
    else:
        contact = [
            "(c) Name and email address of the person submitting this notice",
            f"Name: {case.requester.name}",
            f"Email: {case.requester.email}",
        ]
        closing = [
            "Please confirm receipt of this notice without undue delay (Article 16(4) of the "
            "Digital Services Act) and notify me of your decision without undue delay, with "
            "information on the possibilities for redress (Article 16(5)). Article 16(6) "
            "requires notices to be processed in a timely, diligent, non-arbitrary and "
            "objective manner."
        ]
    lines = [
        f"To: {host.name}",
        "",
        "NOTICE under Article 16 of Regulation (EU) 2022/2065 (Digital Services Act)",
        "",
        "(a) Why this content is illegal",
        f"{case.description} It is an intimate image shared without the consent of the person "
        "shown.",
        *_paragraph(case.consent_statement),
        *minor,
        *_dsa_legal_basis(case),
        *([] if anonymous else [_who(case)]),
        "",
        "(b) Exact location of the content",
        *_urls(host),
        *_hashes(case),
        "",
        *contact,
        "",
        "(d) Statement",
        "I confirm my bona fide belief that the information and allegations contained in this "
        "notice are accurate and complete.",
        "",
        *([] if anonymous else [*_signature(case, now), ""]),
        *closing,
    ]
    recipient = host.contact
    instructions = (
        f"Send through {host.name}'s notice form for illegal content (Art. 16(1) DSA requires "
        "one)" + (f" or by email to {host.contact}." if host.contact else ".")
    )
    if anonymous:
        instructions += (
            " This notice leaves out your name, email and case reference, and its .eml has no "
            "sender: send it through a form or from an address that does not reveal who you "
            "are, and check the description names no one."
        )
    return Notice(NoticeForm.DSA, host.name, recipient, subject, "\n".join(lines), instructions)


def _esafety(case: CaseFile, hosts: list[Host], now: datetime) -> Notice:
    subject = "Image-based abuse report"
    lives_in_au = case.jurisdiction is Jurisdiction.AU
    au_hosts = [host.name for host in hosts if host.jurisdiction is Jurisdiction.AU]
    if lives_in_au:
        why = "The person shown ordinarily lives in Australia."
    elif au_hosts:
        why = f"The image is on a site based in Australia ({', '.join(au_hosts)})."
    else:
        why = ""
    where: list[str] = []
    for host in hosts:
        where += [f"{host.name} (where the site is based: {host.jurisdiction.value})", *_urls(host)]
    lines = [
        "Report to the eSafety Commissioner (Australia) - image-based abuse",
        f"Paste into eSafety's online report form ({ESAFETY_FORM_URL}); eSafety does not take "
        "these reports by email.",
        "",
        "Who is reporting",
        _who(case),
        *_contact(case),
        *(["", "Why this is for eSafety", why] if why else []),
        "",
        "What happened",
        case.description,
        "The image was shared without the consent of the person shown.",
        *_paragraph(case.consent_statement),
        *(["The person shown was under 18 when it was taken."] if case.under_18_when_taken else []),
        "",
        "Where it is",
        *where,
        *_hashes(case),
        *(["", "Evidence I have kept", case.evidence_notes] if case.evidence_notes else []),
        "",
        "Declaration",
        "The information in this report is true and correct to the best of my knowledge.",
        *_signature(case, now),
        "",
        "Under the Online Safety Act 2021 (Cth) (ss 77-79), eSafety can give a removal notice "
        "requiring an intimate image to be removed within 24 hours after the notice was given, "
        "or such longer period as the Commissioner allows. Asking a site myself does not start "
        "that period.",
    ]
    instructions = (
        f"Paste into eSafety's online report form ({ESAFETY_FORM_URL}): eSafety does not take "
        "these reports by email, so the .eml has no recipient."
    )
    return Notice(NoticeForm.ESAFETY, ESAFETY_NAME, None, subject, "\n".join(lines), instructions)


def guidance(case: CaseFile, notices: list[Notice]) -> list[str]:
    """What the requester should know before sending each kind of notice: shown by
    ``hashwall notice generate`` and the ``/notices`` page, never put in the notices
    (``under_18_guidance`` comes first and apart)."""
    forms = {notice.form for notice in notices}
    lines: list[str] = []
    if NoticeForm.TAKE_IT_DOWN in forms:
        lines.append(
            "TAKE IT DOWN: submit each request through the site's own TAKE IT DOWN removal "
            "form and paste the text: the 48-hour duty (47 U.S.C. § 223a(a)(3)) is for requests "
            "made through that process, not for any abuse email address. It applies to covered "
            "platforms from 19 May 2026. If a site does not act within 48 hours, tell the "
            f"Federal Trade Commission, which enforces it: the FTC's complaint page is {FTC_PAGE}."
        )
        if not (case.consent_statement and case.consent_statement.strip()):
            lines.append(
                "Your case file has no consent_statement: adding facts that show the image was "
                "published without consent (how it was shared, that the person shown never "
                "agreed) helps the platform decide (47 U.S.C. § 223a(a)(1)(B)(iii))."
            )
    if NoticeForm.DMCA in forms:
        lines.append(
            "DMCA: send the TAKE IT DOWN request first: it needs no copyright. The uploader can "
            "answer a DMCA notice with a counter-notice, and the site may then restore the "
            "picture after 10 to 14 business days unless you file a court action (17 U.S.C. "
            "§ 512(g)(2)(C)); for a US work that needs the copyright registered first (17 "
            "U.S.C. § 411(a)). Find the site's designated agent in the U.S. Copyright Office's "
            f"DMCA designated-agent directory: {COPYRIGHT_OFFICE_AGENTS}"
        )
        lines.append(
            "DMCA: hosts often forward the whole notice, your name and contact details "
            "included, to the uploader; consider giving an agent's or lawyer's address."
        )
    if NoticeForm.DSA in forms and not (case.legal_reference and case.legal_reference.strip()):
        lines.append(
            "DSA: the notice names no national law (legal_reference). If you know the provision "
            "of your Member State's law that makes sharing intimate images without consent an "
            "offence, add it: the notice is stronger with it."
        )
    if NoticeForm.ESAFETY in forms:
        lines.append(
            "eSafety: one report covers every site listed in it. A complaint to eSafety can be "
            "made when the person shown or the person who posted the image ordinarily lives in "
            "Australia, or the image is hosted there (Online Safety Act 2021 (Cth) s 32)."
        )
    return lines


def under_18_guidance(case: CaseFile) -> list[str]:
    """Where to turn when the person shown was under 18 when the image was taken (empty
    otherwise): printed first and apart by the CLI, in a box at the top of the web page."""
    return list(UNDER_18) if case.under_18_when_taken else []


UNDER_18 = [
    "UNDER 18: the person shown was under 18 when this was taken. Send links and hashes, never "
    "the image itself. Free services made for this:",
    f"  - NCMEC's Take It Down, for images taken before 18: {NCMEC_TAKE_IT_DOWN}",
    "  - Report Remove, by the IWF and Childline, for under-18s in the UK: " + REPORT_REMOVE,
    "  The TAKE IT DOWN request still needs contact information and a signature (47 U.S.C. "
    "§ 223a(a)(1)(B)(i) and (iv)); a parent, guardian or other authorised person can send it "
    "with their own details. A DSA notice may leave out the name and email address (DSA Art. "
    "16(2)(c)): set anonymous_dsa_notice: true.",
]


def to_email(notice: Notice, case: CaseFile, now: datetime) -> EmailMessage:
    """An unsent ``.eml``: the survivor opens it in their mail program and sends it there."""
    message = EmailMessage()
    if is_anonymous(notice, case):
        message["Subject"] = notice.subject
    else:
        message["Subject"] = f"{notice.subject} - {case.case_id}"
        message["From"] = formataddr((case.requester.name, case.requester.email))
    if notice.recipient:
        message["To"] = notice.recipient
    message["Date"] = format_datetime(require_aware(now, "now"))
    message["X-Unsent"] = "1"  # opens as a draft in Outlook and others
    message.set_content(notice.body)
    return message
