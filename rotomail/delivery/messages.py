"""The statement and run-log e-mails: templates, address hygiene, MIME building.

Templates (``string.Template``, ``$name``) live in ``rotomail/delivery/templates/<lang>/`` and an
admin overrides any of them with ``ROTOMAIL_HOME/templates/<lang>/<name>``. Variables:

* ``statement.subject`` / ``statement.txt`` / ``statement.html``: ``company`` (legal
  name), ``customer``, ``phone``, ``reply_to``, ``rfc``, ``sociedad``, ``filename``,
  ``note`` (the manual's "do not reply" note, or "reply or write to <reply_to>" when the
  company has a reply_to), ``customer_number``, ``cutoff_date``, ``balance`` and ``overdue``
  (per currency, in the customer's language: "MXN 1,000.00 · USD 500.00"), ``payments``
  (the line "Pagos y abonos recibidos desde el 31/10/2026: MXN 5,000.00", empty without any),
  ``payments_total`` and ``payments_since`` (its amounts and date), ``disputed`` (the line
  "En aclaración (no incluido en lo vencido): MXN 1,000.00", empty without disputed items;
  ``overdue`` leaves them out, ``balance`` keeps them) and ``disputed_total`` (its amounts),
  ``copies`` (the line
  naming the invoice copies left out by the size cap, empty when none were), ``collector``
  (the line "Cuentas por Cobrar: <collector> · tel. … · …", empty without one); the HTML
  one also ``subject``. Values are escaped for the HTML alternative. A line holding nothing
  but ``${payments}``, ``${disputed}``, ``${copies}`` or ``${collector}`` (in HTML, also inside
  ``<p>…</p>``) is left out when it is empty.
* ``log.subject`` / ``log.txt``: whatever the caller passes to :func:`render_template`
  (the send command uses ``run``, ``operator``, ``date``, ``sociedad``, ``sent``,
  ``failed``, ``skipped``, ``log_name``).

Nothing a user typed is pasted into raw header text: names are reduced to one line
without control characters, addresses with control characters are rejected, and the
``email`` package encodes every header.
"""

from __future__ import annotations

import html
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from rotomail.company import LANGUAGES, Collector, CompanyProfile, contact_details
from rotomail.delivery.outgoing import Attachment, Outgoing
from rotomail.errors import DataError, UsageError
from rotomail.inputs.addresses import ascii_address, is_valid_address
from rotomail.statement.labels import format_amount, format_balances, format_date, labels
from rotomail.statement.model import Statement

DEFAULT_LANGUAGE = "es"
REHEARSAL_PREFIX = "[PRUEBA] "
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP

# ---------------------------------------------------------------------------------------
# Text and address hygiene
# ---------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAME_ADDR = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")


def clean_line(value: str) -> str:
    """One line of text: control characters (CR, LF, tab, ...) become blanks, runs collapse."""
    return " ".join(_CONTROL.sub(" ", value).split())


def parse_address(value: str, *, what: str = "correo") -> Address:
    """``user@example.mx`` or ``Name <user@example.mx>``; DataError when it is not valid.

    An address with CR, LF or any control character is rejected, never repaired: it is
    either a typo or an injection attempt, and guessing could mail the wrong party.
    """
    if _CONTROL.search(value):
        raise DataError(f"Dirección de {what} inválida (caracteres de control): {value!r}")
    text = value.strip()
    display = ""
    match = _NAME_ADDR.match(text)
    if match:
        display = clean_line(match.group("name").strip().strip('"'))
        text = match.group("addr").strip()
    if not is_valid_address(text):  # email-validator's verdict, as for the catalogue's
        raise DataError(f"Dirección de {what} inválida: {value!r}")
    local, domain = text.rsplit("@", 1)
    return Address(display_name=display, username=local, domain=domain)


def safe_attachment_name(filename: str, default: str = "adjunto") -> str:
    """A file name that cannot carry a path or a header break: ``../x\\r\\n.pdf`` -> ``x_.pdf``."""
    base = re.split(r"[\\/]", filename)[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", clean_line(base)).lstrip("._")
    return base[:150] or default


# ---------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------

_TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]*\.[a-z]+")


class MailTemplate(string.Template):
    """A ``string.Template`` that remembers where it came from (for error messages)."""

    def __init__(self, template: str, source: str) -> None:
        super().__init__(template)
        self.source = source


def load_template(name: str, language: str, override_dir: Path | None = None) -> MailTemplate:
    """``<override_dir>/<lang>/<name>`` when an admin put one there, else the packaged one.

    Files are read once per version (path and modification time), not once per message.
    """
    if not _TEMPLATE_NAME.fullmatch(name):
        raise ValueError(f"invalid template name: {name!r}")
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    if override_dir is not None:
        path = override_dir / lang / name
        if path.is_file():
            return _override_template(path, path.stat().st_mtime_ns)
    return _packaged_template(lang, name)


@lru_cache(maxsize=64)
def _override_template(path: Path, mtime_ns: int) -> MailTemplate:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"No se pudo leer la plantilla {path}: guárdela como texto UTF-8 ({exc})."
        ) from None
    return MailTemplate(text, str(path))


@lru_cache(maxsize=64)
def _packaged_template(lang: str, name: str) -> MailTemplate:
    packaged = resources.files("rotomail.delivery").joinpath("templates", lang, name)
    return MailTemplate(
        packaged.read_text(encoding="utf-8"), f"rotomail/delivery/templates/{lang}/{name}"
    )


_FIELD_LINE = re.compile(r"^[ \t]*(?:<p>)?\$(?:\{(\w+)\}|(\w+))(?:</p>)?[ \t]*\r?\n", re.MULTILINE)
# Fields whose line is left out when they are empty (a statement without payments).
OPTIONAL_LINES = frozenset({"payments", "copies", "collector", "disputed"})


def render(template: string.Template, values: Mapping[str, str]) -> str:
    """Substitute every ``$name``; a typo in an admin's template is a clear UsageError.

    A line that is only an optional field (``OPTIONAL_LINES``) left empty is left out."""
    source = getattr(template, "source", "(plantilla)")

    def line(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return "" if name in OPTIONAL_LINES and values.get(name) == "" else match.group(0)

    text = _FIELD_LINE.sub(line, template.template)
    if text != template.template:
        template = MailTemplate(text, source)
    try:
        return template.substitute(values)
    except KeyError as exc:
        known = ", ".join(f"${{{key}}}" for key in sorted(values))
        raise UsageError(
            f"La plantilla {source} usa la variable ${{{exc.args[0]}}}, que no existe. "
            f"Variables disponibles: {known}."
        ) from None
    except ValueError:
        raise UsageError(
            f"La plantilla {source} tiene un «$» suelto; escriba $$ para un signo de pesos."
        ) from None


def render_template(
    name: str, language: str, values: Mapping[str, str], override_dir: Path | None = None
) -> str:
    return render(load_template(name, language, override_dir), values)


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------

# The body's note on replies: the manual's "do not reply" without a reply_to mailbox, an
# invitation to reply (the Reply-To header takes the answer there) with one.
NO_REPLY_NOTE = {
    "es": "Nota: Solicitamos no responder a este mensaje, ya que las respuestas a este correo "
    "electrónico no serán leídas. Para mayor información consultar a su ejecutivo de Cuentas "
    "por Cobrar.",
    "pt": "Nota: Solicitamos não responder a esta mensagem, pois as respostas a este e-mail não "
    "serão lidas. Para mais informações, consulte o seu executivo de Contas a Receber.",
    "en": "Note: Please do not reply to this message; replies to this e-mail address are not "
    "read. For more information, please contact your Accounts Receivable representative.",
}
REPLY_NOTE = {
    "es": "Nota: si tiene alguna duda, responda a este correo o escriba a {reply_to}.",
    "pt": "Nota: em caso de dúvida, responda a este e-mail ou escreva para {reply_to}.",
    "en": "Note: if you have any questions, reply to this e-mail or write to {reply_to}.",
}


# From's display name when the company's sender has none: "<company> - Cuentas por Cobrar".
AR_DEPARTMENT = {"es": "Cuentas por Cobrar", "pt": "Contas a Receber", "en": "Accounts Receivable"}


def sender_of(company: CompanyProfile) -> Address:
    """The From address: ``sender`` as written, or, when it has no display name, with the
    company's name and its AR department in the message's language."""
    sender = parse_address(company.sender, what="remitente (sender)")
    if sender.display_name:
        return sender
    lang = company.language if company.language in LANGUAGES else DEFAULT_LANGUAGE
    name = " - ".join(part for part in (clean_line(company.name), AR_DEPARTMENT[lang]) if part)
    return Address(display_name=name, username=sender.username, domain=sender.domain)


def collector_address(collector: Collector) -> Address:
    """The collector as a Cc or Reply-To: ``Ana Ruiz <ana.ruiz@example.mx>``."""
    address = parse_address(collector.email, what=f"ejecutivo {collector.code}")
    return Address(
        display_name=clean_line(collector.name), username=address.username, domain=address.domain
    )


def collector_line(language: str, company: CompanyProfile, collector: Collector | None) -> str:
    """The body's contact line with the collector (as on the PDF), or "" without one."""
    if collector is None:
        return ""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return clean_line(labels(lang).contact_line(*contact_details(company, collector)))


def reply_note(language: str, reply_to: str) -> str:
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return REPLY_NOTE[lang].format(reply_to=reply_to) if reply_to else NO_REPLY_NOTE[lang]


def verp_sender(bounce_address: str, token: str) -> str:
    """``rebotes@example.mx`` + token -> ``rebotes+<token>@example.mx`` (the envelope sender)."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"


def _stamp(msg: Message, outgoing: Outgoing) -> None:
    """The headers every message carries. ``outgoing.subject`` is already one clean line."""
    subject = outgoing.subject
    msg["From"] = _header_address(outgoing.sender)
    # The compat32 classes need encoded words. A Header (not its encoded text) folds
    # after "Subject: ": a long subject does not start on a line of its own, which a
    # reader would show as a leading blank.
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    msg["Date"] = outgoing.date
    msg["Message-ID"] = outgoing.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies


def new_message(
    sender: Address,
    to: Iterable[Address],
    subject: str,
    text: str,
    **fields: Any,
) -> Outgoing:
    """An :class:`Outgoing` dated now, with a fresh Message-ID in the sender's domain."""
    return Outgoing(
        sender,
        tuple(to),
        subject,
        text,
        date=formatdate(localtime=True),
        message_id=make_msgid(domain=sender.domain),
        **fields,
    )


def _rehearsal_note(real_recipients: Iterable[str]) -> str:
    # Addressed to the operator, who reads Spanish whatever the customer's language.
    shown = ", ".join(clean_line(a) for a in real_recipients if clean_line(a)) or "(sin correos)"
    return (
        f"PRUEBA: este mensaje es un ensayo enviado al operador. En el envío real iría a: {shown}"
    )


def _insert_after_body_tag(document: str, fragment: str) -> str:
    match = re.search(r"<body\b[^>]*>", document, re.IGNORECASE)
    if not match:
        return fragment + "\n" + document
    return document[: match.end()] + "\n" + fragment + document[match.end() :]


STATEMENT_FIELDS = (
    "customer_number",
    "cutoff_date",
    "balance",
    "overdue",
    "payments",
    "payments_total",
    "payments_since",
    "copies",
    "disputed",
    "disputed_total",
)

# The e-mail's line naming the invoice copies the size cap left out.
COPIES_LEFT_OUT = {
    "es": "Copias de facturas no adjuntas por el tamaño del correo (límite {mb} MB): {names}",
    "pt": "Cópias de faturas não anexadas pelo tamanho do e-mail (limite {mb} MB): {names}",
    "en": "Invoice copies not attached because of the e-mail's size (limit {mb} MB): {names}",
}


def copies_line(language: str, left_out: Iterable[str], max_mb: float) -> str:
    """The line naming the copies left out, in the customer's language; "" for none."""
    names = ", ".join(left_out)
    if not names:
        return ""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE
    mb = int(max_mb) if float(max_mb).is_integer() else max_mb
    return COPIES_LEFT_OUT[lang].format(mb=mb, names=names)


def statement_fields(statement: Statement) -> dict[str, str]:
    """The statement's figures for the e-mail templates, in its language."""
    lang = statement.lang
    lb = labels(lang)
    balance = " · ".join(
        f"{s.moneda} {format_amount(s.balance, lang)}" for s in statement.summaries if s.balance
    )
    overdue = " · ".join(
        f"{s.moneda} {format_amount(s.overdue, lang)}" for s in statement.summaries if s.overdue
    )
    disputed = statement.disputed()
    in_dispute = format_balances(disputed, lang) if disputed else ""
    payments = statement.payments
    received = since = line = ""
    if payments is not None:
        received = format_balances(payments.totals(), lang)
        since = format_date(payments.since, lang)
        line = lb.payments_line.format(date=since, amounts=received)
    return {
        "customer_number": statement.cliente,
        "cutoff_date": format_date(statement.statement_date, lang),
        "balance": balance or lb.no_balance,
        "overdue": overdue or format_amount(Decimal(0), lang),
        "payments": line,
        "payments_total": received,
        "payments_since": since,
        "disputed": lb.disputed_line.format(amounts=in_dispute) if in_dispute else "",
        "disputed_total": in_dispute,
    }


def build_statement_message(
    company: CompanyProfile,
    customer_name: str,
    to: list[str],
    pdf: bytes,
    filename: str,
    *,
    rehearsal_for: list[str] | None = None,
    override_dir: Path | None = None,
    fields: Mapping[str, str] | None = None,
    copies: tuple[Attachment, ...] = (),
    collector: Collector | None = None,
) -> Outgoing:
    """One customer's statement e-mail: text + HTML alternatives and the PDF attached,
    followed by ``copies`` (the invoice copies).

    ``rehearsal_for`` (``send --test``): the message goes to ``to`` (the operator); the
    subject is prefixed ``[PRUEBA] `` and the body names the real recipients.
    ``collector``: the customer's collector, named in the body's contact line and the
    Reply-To when the company has no reply_to.
    """
    sender = sender_of(company)
    reply_to = (
        parse_address(company.reply_to, what="Reply-To")
        if company.reply_to.strip()
        else collector_address(collector)
        if collector is not None
        else None
    )
    recipients = [parse_address(address, what="destinatario") for address in to]
    if not recipients:
        raise DataError(
            f"El cliente {clean_line(customer_name)!r} no tiene correos a los cuales enviar."
        )
    attachment = safe_attachment_name(filename, default="estado_de_cuenta.pdf")
    language = company.language
    values = {
        "company": clean_line(company.name),
        "customer": clean_line(customer_name),
        "phone": clean_line(company.phone),
        "reply_to": reply_to.addr_spec if reply_to else "",
        "rfc": clean_line(company.rfc),
        "sociedad": clean_line(company.code),
        "filename": attachment,
        "note": reply_note(language, reply_to.addr_spec if reply_to else ""),
        "collector": collector_line(language, company, collector),
    }
    values.update({key: clean_line((fields or {}).get(key, "")) for key in STATEMENT_FIELDS})
    subject = clean_line(render_template("statement.subject", language, values, override_dir))
    if rehearsal_for is not None:
        subject = REHEARSAL_PREFIX + subject
    values["subject"] = subject
    text = render_template("statement.txt", language, values, override_dir)
    escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
    html_body = render_template("statement.html", language, escaped, override_dir)
    if rehearsal_for is not None:
        note = _rehearsal_note(rehearsal_for)
        text = f"{note}\n\n{text}"
        html_body = _insert_after_body_tag(
            html_body, f'<p style="color: #b00020;"><strong>{html.escape(note)}</strong></p>'
        )

    return new_message(
        sender,
        recipients,
        subject,
        text,
        html=html_body,
        attachments=(Attachment(attachment, pdf, "application/pdf"), *copies),
        reply_to=reply_to,
        name=Path(attachment).stem,
    )


def mime_message(outgoing: Outgoing) -> Message:
    """The one MIME builder: the text (and its HTML alternative) and the attachments.

    Built with the compat32 MIME classes: for thousands of statements they cost half of
    EmailMessage's header parsing. Every value was cleaned or parsed when the message was
    built, so nothing here can carry a line break into a header.
    """
    mixed = MIMEMultipart("mixed", boundary=_boundary()) if outgoing.attachments else None
    # quoted-printable keeps the message 7-bit clean for relays without 8BITMIME.
    body: Message = _text_part(outgoing.text, "plain")
    if outgoing.html:
        alternative = MIMEMultipart("alternative", boundary=_boundary())
        alternative.attach(body)
        alternative.attach(_text_part(outgoing.html, "html"))
        body = alternative
    msg = mixed or body
    _stamp(msg, outgoing)
    msg["To"] = _to_header([_header_address(address) for address in outgoing.to])
    if outgoing.cc:
        msg["Cc"] = _to_header([_header_address(address) for address in outgoing.cc])
    if outgoing.reply_to is not None:
        msg["Reply-To"] = _header_address(outgoing.reply_to)
    if mixed is not None:
        mixed.attach(body)
        for attachment in outgoing.attachments:
            mixed.attach(_attachment_part(attachment))
    return msg


def _attachment_part(attachment: Attachment) -> Message:
    maintype, _, subtype = attachment.mime_type.partition("/")
    part: Message
    if maintype == "text":
        part = _text_part(attachment.content.decode("utf-8", errors="replace"), subtype)
    else:
        part = MIMENonMultipart(maintype, subtype)
        part.set_payload(attachment.content)
        encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
    return part


def _boundary() -> str:
    """A MIME boundary that cannot occur in the parts: "=_" never appears in base64 or
    quoted-printable text. Chosen here, the generator skips its own choice, which compiles
    a regular expression and searches the whole message for every multipart."""
    return f"=_rotomail_{secrets.token_hex(12)}"


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, _UTF8_QP)
    return part


def _to_header(addresses: list[str]) -> str:
    """The To header; an address with accents before the @ becomes a chunk of its own so
    it alone is encoded and the others stay readable."""
    if all(address.isascii() for address in addresses):
        return ", ".join(addresses)
    header = Header()
    for n, address in enumerate(addresses):
        header.append(
            address + ("," if n < len(addresses) - 1 else ""),
            "utf-8" if not address.isascii() else "us-ascii",
        )
    return header.encode(linesep="\r\n")


def _header_address(address: Address) -> str:
    spec = ascii_address(address.addr_spec)  # an IDN domain as punycode
    if spec is None:  # accents before the @: only for SMTPUTF8 servers, the bare address
        return address.addr_spec
    return formataddr((address.display_name, spec), charset="utf-8")


def build_log_message(
    sender: str, operator: str, subject: str, body: str, log_path: Path
) -> Outgoing:
    """The operator's copy of the run log, the .txt file attached."""
    attachment = safe_attachment_name(log_path.name, default="log.txt")
    return new_message(
        parse_address(sender, what="remitente (sender)"),
        [parse_address(operator, what="operador")],
        clean_line(subject),
        body,
        attachments=(Attachment(attachment, log_path.read_bytes(), "text/plain"),),
        name=Path(attachment).stem,
    )


class _Compat32ShortHeaders(Compat32):
    """compat32 that writes a header which already is one short line of ASCII as it is.

    The ``Header`` folding that compat32 runs for every header gives the same bytes for
    such a line (tests/test_messages.py checks it), at several times the cost: it was a
    third of building a statement e-mail."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
            and value.isprintable()
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_COMPAT32_CRLF = _Compat32ShortHeaders(linesep="\r\n")


def message_bytes(outgoing: Outgoing) -> bytes:
    """The message as sent (CRLF line ends): built once, then kept in ``outgoing.mime``."""
    return outgoing.mime or mime_message(outgoing).as_bytes(policy=_COMPAT32_CRLF)


def serialised(outgoing: Outgoing) -> Outgoing:
    """``outgoing`` with its MIME bytes built (in a render worker, off the sending process)."""
    return outgoing if outgoing.mime else replace(outgoing, mime=message_bytes(outgoing))
