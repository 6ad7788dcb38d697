"""Bounces written by real servers (tests/data/bounces/real/, sources in its README.md):
each report goes end to end through ``rotomail bounces`` with a Maildir, matched to a real
send of the statement to the addresses it names. Every permanently failed address must end
"rebotado"; no delay warning, auto-reply or ordinary message may mark anything bounced."""

from __future__ import annotations

import json
import re
from email.utils import formatdate
from pathlib import Path

import pytest
from smtp_server import SmtpServer

from tests.conftest import Cli

REAL = Path(__file__).resolve().parent / "data" / "bounces" / "real"
DATE = "2026-11-30"
CLIENTE = "1006210"

# file -> (permanently failed addresses, delayed addresses), read by hand in each report and
# checked against flufl.bounce. When a report names a recipient twice (Original-Recipient
# and an alias in Final-Recipient) the address listed is the one the statement went to: the
# Original-Recipient, or the Final-Recipient in the two reports marked "final".
FAILED: dict[str, tuple[list[str], list[str]]] = {
    # Postfix (the second: two recipients; -01, -77: Final-Recipient is an alias; -79: CRLF,
    # Final-Recipient a local name)
    "sisimai-lhost-postfix-01.eml": (["kijitora@example.org"], []),
    "sisimai-lhost-postfix-02.eml": (["filtered@example.co.jp", "userunknown@example.co.jp"], []),
    "sisimai-lhost-postfix-05.eml": (["kijitora@example.org"], []),
    "sisimai-lhost-postfix-77.eml": (["neko@example.co.jp"], []),
    "sisimai-lhost-postfix-79.eml": (["nekko@c.example.co.jp"], []),
    # Exim (not RFC 3464)
    "sisimai-lhost-exim-01.eml": (["kijitora@example.ed.jp"], []),
    "sisimai-lhost-exim-02.eml": (["kijitora@example.jp", "sabatora@example.jp"], []),
    "sisimai-lhost-exim-05.eml": (["kijitora@neko.example.co.jp"], []),
    # Sendmail (-13: its Action field is garbled, "ction: failed")
    "sisimai-lhost-sendmail-01.eml": (["userunknown@bouncehammer.jp"], []),
    "sisimai-lhost-sendmail-02.eml": (["userunknown@example.org", "filtered@example.com"], []),
    "sisimai-lhost-sendmail-13.eml": (["kijitora@example.or.jp"], []),
    # qmail
    "sisimai-lhost-qmail-01.eml": (["kijitora@example.ne.jp"], []),
    "sisimai-lhost-qmail-02.eml": (["userunknown@example.jp", "filtered@example.jp"], []),
    "sisimai-lhost-qmail-03.eml": (["kijitora@example.org"], []),
    "flufl-qmail_01.eml": (["persona4@example.com"], []),
    # Microsoft: Exchange 2003 (plain text), Exchange 2007, Office 365, Outlook.com, EOP,
    # and older Exchange / Internet Mail Service notices
    "sisimai-lhost-exchange2003-01.eml": (["kijitora@example.jp"], []),
    "sisimai-lhost-exchange2003-02.eml": (["mikeneko@example.co.jp", "kijitora@example.co.jp"], []),
    "sisimai-lhost-exchange2007-01.eml": (["mikeneko@example.co.jp"], []),
    "sisimai-lhost-exchange2007-04.eml": (["neko-nyaan@example.jp"], []),  # final
    "sisimai-lhost-office365-03.eml": (["kijitora@example.com"], []),
    "sisimai-lhost-office365-05.eml": (["kijitora@example.jp"], []),
    "sisimai-lhost-outlook-01.eml": (["kijitora@example.jp"], []),
    "sisimai-rhost-microsoft-01.eml": (["kijitora@example.com"], []),
    "flufl-microsoft_01.eml": (["persona5@example.com"], []),
    "flufl-groupwise_02.eml": (["persona7@example.com"], []),  # Exchange, despite its name
    # Google: Gmail (plain text), Google Workspace, a relay behind Google
    "sisimai-lhost-gmail-01.eml": (["userunknown@example.jp"], []),
    "sisimai-lhost-gmail-03.eml": (["kijitora@example.co.jp"], []),
    "sisimai-lhost-googleworkspace-01.eml": (["neko-nyaan-cat-meeting@google-groups.example.com"], []),
    "sisimai-rhost-google-03.eml": (["neko@example.co.jp"], []),
    # Yahoo
    "sisimai-lhost-yahoo-03.eml": (["kijitora@example.jp"], []),
    "sisimai-lhost-yahoo-04.eml": (["kijitora@example.co.jp"], []),
    "flufl-yahoo_01.eml": (["persona7@example.com"], []),
    # Lotus Domino / Notes, Novell GroupWise
    "sisimai-lhost-domino-01.eml": (["kijitora@example.jp"], []),
    "sisimai-lhost-domino-02.eml": (["kijitora@example.co.jp"], []),
    "flufl-groupwise_01.eml": (["persona12@example.com"], []),
    # Amazon SES (sending and receiving)
    "sisimai-lhost-amazonses-01.eml": (["shironeko@example.co.jp"], []),
    "sisimai-lhost-amazonses-03.eml": (["kijitora@example.jp"], []),
    # SendGrid: Action "expired", no status
    "sisimai-lhost-sendgrid-03.eml": (["kijitora@example.org"], []),
    "sisimai-lhost-receivingses-01.eml": (["userunknown@neko.example.jp"], []),
    # Others: Courier, OpenSMTPD, Mimecast (fields "Name : value"), Oracle Messaging Server,
    # mail.ru, an unnamed MTA, SMTP32, Netscape, LLNL, old RFC 1894 reports
    "sisimai-lhost-courier-01.eml": (["kijitora@example.co.jp"], []),
    "sisimai-lhost-opensmtpd-10.eml": (["postmaster@cx.libsisimai.org"], []),
    "sisimai-lhost-mimecast-02.eml": (["sabatora@example.net"], []),
    "sisimai-lhost-messagingserver-02.eml": (["kijitora@example.net"], []),
    "sisimai-lhost-mailru-01.eml": (["kijitora@example.jp"], []),
    "sisimai-lhost-x3-05.eml": (["kijitora@example.or.jp"], []),
    "flufl-smtp32_01.eml": (["persona9@example.com"], []),
    "flufl-netscape_01.eml": (["persona6@example.com", "persona7@example.com"], []),
    "flufl-llnl_01.eml": (["persona11@example.com"], []),
    "flufl-dsn_01.eml": (["persona16@example.com"], []),
    "flufl-dsn_04.eml": (["persona14@example.com"], []),  # final
    "flufl-dsn_11.eml": (["joem@example.com"], []),  # the same recipient eleven times
    "flufl-simple_27.eml": (["persona3@example.com"], []),  # subject "Warning: ... User unknown!"
    # Delay warnings: Exim, Sendmail, Gmail, Outlook.com, OpenSMTPD, RFC 3464, and a Postfix
    # warning that lost its MIME structure (flufl.bounce alone reads it as a failure)
    "sisimai-lhost-exim-38.eml": ([], ["kijitora@example.co.jp"]),
    "flufl-simple_03.eml": ([], ["persona11@example.com"]),
    "sisimai-lhost-sendmail-29.eml": (
        [],
        ["this-local-part-does-not-exist-on-the-system@y-mobile.ne.jp"],
    ),
    "sisimai-lhost-gmail-06.eml": ([], ["kijitora@example.jp"]),
    "sisimai-lhost-gmail-17.eml": ([], ["mikeneko@libsisimai.org"]),
    "sisimai-lhost-outlook-06.eml": ([], ["kijitora@example.com"]),
    "sisimai-rhost-outlook-06.eml": ([], ["kijitora@example.com"]),
    "sisimai-lhost-opensmtpd-06.eml": ([], ["nekochan@libsisimai.org"]),
    "sisimai-rfc3464-07.eml": ([], ["kijitora@example.net"]),
    "flufl-dsn_05.eml": ([], ["persona2@example.com"]),
    "sisimai-rfc3464-34.eml": ([], ["kijitora@example.com"]),
}  # fmt: skip

# Not reports at all (auto-replies, ordinary mail), with the address of their writer: a
# customer of ours, who must not be marked in any way.
NOT_REPORTS = {
    "sisimai-rfc3834-01.eml": "kijitora@example.net",
    "sisimai-rfc3834-02.eml": "nekonyaan@example.org",
    "sisimai-not-is-not-bounce-01.eml": "shironeko@example.com",
    "sisimai-not-is-not-bounce-02.eml": "dummy@example.com",
}


def test_every_corpus_file_has_its_expectation() -> None:
    on_disk = {p.name for p in REAL.glob("*.eml")}
    assert on_disk == set(FAILED) | set(NOT_REPORTS)
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in on_disk)


def arriving_now(data: bytes) -> bytes:
    """The report as the server wrote it, dated now: the top-level Date is replaced, so the
    report falls within the days after the send that recipient matching looks at."""
    end = re.search(rb"\r?\n\r?\n", data)
    split = end.start() if end else len(data)
    head, body = data[:split], data[split:]
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    head = re.sub(rb"(?im)^Date:[^\n]*\n(?:[ \t][^\n]*\n)*", b"", head + newline)[: -len(newline)]
    date = b"Date: " + formatdate(localtime=True).encode() + newline
    if head.startswith(b"From "):  # an mbox From_ line stays first
        first, _, rest = head.partition(b"\n")
        return first + b"\n" + date + rest + body
    return date + head + body


def history(cli: Cli) -> dict:
    result = cli("history", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    return row


def send_and_read(cli: Cli, tmp_path: Path, addresses: list[str], name: str) -> list[str]:
    """The statement sent to ``addresses``, then the report read from a Maildir: the summary."""
    added = cli("catalog", "add", "SM02", CLIENTE, ";".join(addresses))
    assert added.exit_code == 0, added.output
    sent = cli("send", "--sociedad", "SM02", "--cliente", CLIENTE, "--all", "--date", DATE)
    assert sent.exit_code == 0, sent.output
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    report = arriving_now((REAL / name).read_bytes())
    (maildir / "new" / "1796000000.M1P1.mail.example.mx").write_bytes(report)
    result = cli("bounces", "-v", "--maildir", str(maildir))
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("name", sorted(FAILED))
def test_real_report_end_to_end(smtp: SmtpServer, loaded: Cli, tmp_path: Path, name: str) -> None:
    failed, delayed = FAILED[name]
    lines = send_and_read(loaded, tmp_path, failed + delayed, name)
    assert lines[-4:] == [
        f"Direcciones rebotadas  {len(failed)}",
        f"Clientes rebotados     {1 if failed and not delayed else 0}",
        f"Con retraso            {len(delayed)}",
        "Sin identificar        0",
    ], "\n".join(lines)
    row = history(loaded)
    assert {a["correo"]: a["estado"] for a in row["direcciones"]} == {
        **{address: "rebotado" for address in failed},
        **{address: "con retraso" for address in delayed},
    }
    assert row["estado"] == ("rebotado" if failed and not delayed else "enviado")


@pytest.mark.parametrize("name", sorted(NOT_REPORTS))
def test_not_a_report_marks_nothing(
    smtp: SmtpServer, loaded: Cli, tmp_path: Path, name: str
) -> None:
    address = NOT_REPORTS[name]
    lines = send_and_read(loaded, tmp_path, [address], name)
    assert lines[-4:] == [
        "Direcciones rebotadas  0",
        "Clientes rebotados     0",
        "Con retraso            0",
        "Sin identificar        1",
    ]
    assert any("no parece un informe de rebote" in line for line in lines)
    row = history(loaded)
    assert row["estado"] == "enviado"
    assert [a["estado"] for a in row["direcciones"]] == ["aceptado"]
