"""A real IMAP server for tests: pymap with its Maildir backend, in its own process on
127.0.0.1, one user whose INBOX is ``<base>/<user's folder>``.

    with ImapServer(tmp_path) as server:
        server.append(report_bytes)          # through IMAP, as a mail server would deliver
        ... rotomail bounces (imap_host=server.host, imap_port=server.port) ...
        server.messages("INBOX")             # what is left, with its flags
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

from imap_tools import BaseMailBox, MailBoxStartTls, MailBoxUnencrypted
from pysasl.hashing import BuiltinHash
from smtp_server import self_signed_cert

HOST = "127.0.0.1"
USER = "rebotes@example.mx"
PASSWORD = "clave-de-prueba-imap"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ImapServer:
    def __init__(self, folder: Path, *, starttls: bool = False) -> None:
        self.starttls = starttls  # STARTTLS with smtp_server's self-signed certificate
        self.base = folder / "pymap"
        self.host, self.port = HOST, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ImapServer:
        self.base.mkdir(parents=True)
        (self.base / "pymap-etc-passwd").write_text(f"{USER}::1000:1000::rebotes:\n")
        cert, key = self_signed_cert()
        tls = ["--cert", str(cert), "--key", str(key)] if self.starttls else ["--no-tls"]
        (self.base / "pymap-etc-shadow").write_text(
            f"{USER}:{BuiltinHash().hash(PASSWORD)}:::::::\n"
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pymap.main import main; sys.exit(main())",
                "--host", HOST, "--port", str(self.port), *tls,
                "maildir", str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("pymap did not start")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def mailbox(self) -> BaseMailBox:
        if self.starttls:
            context = ssl.create_default_context(cafile=str(self_signed_cert()[0]))
            return MailBoxStartTls(HOST, self.port, ssl_context=context).login(USER, PASSWORD)
        return MailBoxUnencrypted(HOST, self.port).login(USER, PASSWORD)

    def append(self, data: bytes, folder: str = "INBOX") -> None:
        with self.mailbox() as box:
            box.append(data, folder)

    def messages(self, folder: str) -> list[tuple[str, frozenset[str]]]:
        """(Message-ID of the report, flags) of every message in ``folder``."""
        with self.mailbox() as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder)
            return [
                (str(m.obj.get("Message-ID", "")), frozenset(m.flags) - {"\\Recent"})
                for m in box.fetch(mark_seen=False)
            ]
