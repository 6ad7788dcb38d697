"""The IMAP bounce source through documented calls (pymap): what the server offers after
login is read with CAPABILITY, and a processed report is moved with UID MOVE when offered,
copied and deleted otherwise; either way it ends seen in the processed folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from imap_server import PASSWORD, USER, ImapServer

from rotomail.delivery.bounces import ImapSettings, ImapSource

REPORT = (
    b"From: MAILER-DAEMON@example.mx\r\nSubject: x\r\nMessage-ID: <1@example.mx>\r\n\r\nhola\r\n"
)


@pytest.mark.parametrize("move", [True, False])
def test_a_processed_report_ends_seen_in_the_processed_folder(tmp_path: Path, move: bool) -> None:
    with ImapServer(tmp_path) as server:
        server.append(REPORT)
        settings = ImapSettings(
            server.host, server.port, "none", USER, "INBOX", "rotomail-procesados"
        )
        source = ImapSource(settings, PASSWORD)
        assert "MOVE" in source.capabilities  # announced after login, not in the greeting
        if not move:
            source.capabilities = source.capabilities - {"MOVE"}  # a server without MOVE
        for report in source.reports():
            source.done(report)
        source.close()
        assert server.messages("INBOX") == []
        processed = server.messages("rotomail-procesados")
    assert [flags for _, flags in processed] == [frozenset({"\\Seen"})]
    if move:  # pymap's Maildir COPY stores an empty message: its content is compared only here
        assert [mid for mid, _ in processed] == ["<1@example.mx>"]
