"""Every statement sent is kept (``[statement] keep``) and a one-off resend to addresses
given once (``send --cliente X --to ADDR``): no claim taken, the catalog untouched."""

from __future__ import annotations

import getpass
import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from rotomail.delivery import kept as kept_module
from tests.conftest import Cli
from tests.smtp_server import Received, SmtpServer

DATE = "2026-11-30"
OPERATOR = ["operador@example.mx"]


def kept_pdf(home: Path, cliente: str = "1006210") -> Path:
    return home / "statements" / "SM02" / DATE / f"{cliente}_20261130.pdf"


def statements(smtp: SmtpServer) -> list[Received]:
    """The statements the relay took (the operator's run logs left out)."""
    return [m for m in smtp.messages if m.rcpt_tos != OPERATOR]


def attachment(message: Received) -> bytes:
    parts = [p for p in message.message.iter_attachments() if p.get_filename().endswith(".pdf")]
    assert len(parts) == 1
    content = parts[0].get_content()
    assert isinstance(content, bytes)
    return content


def body(message: Received) -> str:
    part = message.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def catalog_row(db_url: str, cliente: str) -> tuple:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT correos, idioma, updated_at FROM catalog_entry "
                "WHERE sociedad = 'SM02' AND cliente = :c"
            ),
            {"c": cliente},
        ).one()
    engine.dispose()
    return tuple(row)


def changes(cli: Cli, cliente: str) -> str:
    result = cli("catalog", "changes", "SM02", cliente, "--format", "json")
    assert result.exit_code == 0, result.output
    return result.stdout


def history_json(cli: Cli, *args: str) -> list[dict]:
    result = cli("history", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_month(cli: Cli) -> None:
    result = cli("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 0, result.output


def test_resend_after_a_run_goes_only_to_the_address_given(
    loaded: Cli, smtp: SmtpServer, home: Path, db_url: str
) -> None:
    """Done when: after a run, ``send --cliente X --to contador@…`` puts one message in the
    relay addressed only to that address, ``history --sociedad S --cliente X`` shows it, and
    the catalog entry is unchanged."""
    run_month(loaded)
    before = len(statements(smtp))
    entry, trail = catalog_row(db_url, "1006210"), changes(loaded, "1006210")

    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--date", DATE,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert f"Reenvío del estado de cuenta guardado: {kept_pdf(home)}" in result.stderr
    new = statements(smtp)[before:]
    assert len(new) == 1
    assert new[0].rcpt_tos == ["contador@example.mx"]
    assert new[0].message["To"] == "contador@example.mx"
    assert "Cc" not in new[0].message
    assert attachment(new[0]) == kept_pdf(home).read_bytes()
    assert catalog_row(db_url, "1006210") == entry
    assert changes(loaded, "1006210") == trail
    rows = history_json(loaded, "--sociedad", "SM02", "--cliente", "1006210")
    assert [(r["modo"], r["estado"], r["correos"]) for r in rows] == [
        ("envío", "enviado", "a@agro.example.mx;b@agro.example.mx"),
        ("reenvío", "enviado", "contador@example.mx"),
    ]
    assert rows[1]["usuario"] == getpass.getuser()
    assert rows[1]["pdf"] == str(kept_pdf(home))
    table = loaded("history", "--sociedad", "SM02", "--cliente", "1006210")
    assert "contador@example.mx" in table.stdout
    runs = history_json(loaded)
    assert runs[0]["modo"] == "reenvío"


def test_every_statement_sent_is_kept_as_attached(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    run_month(loaded)
    by_rcpt = {tuple(m.rcpt_tos): m for m in statements(smtp)}
    sent = by_rcpt[("a@agro.example.mx", "b@agro.example.mx")]
    path = kept_pdf(home)
    assert path.read_bytes() == attachment(sent)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "1001400_20261130.json",
        "1001400_20261130.pdf",
        "1004273_20261130.json",
        "1004273_20261130.pdf",
        "1006210_20261130.json",
        "1006210_20261130.pdf",
    ]  # no temporary file left
    rows = {r["cliente"]: r for r in history_json(loaded, "1")}
    assert rows["1006210"]["pdf"] == str(path)
    assert rows["1004273"]["pdf"] == str(kept_pdf(home, "1004273"))


def test_keep_false_keeps_nothing(loaded: Cli, smtp: SmtpServer, home: Path) -> None:
    config = home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[statement]\nkeep = false\n")
    run_month(loaded)
    assert len(statements(smtp)) == 3
    assert not (home / "statements").exists()
    assert {r["pdf"] for r in history_json(loaded, "1")} == {""}


def test_a_statement_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "SM02" / DATE / "1006210_20261130.pdf"
    kept_module.keep(path, b"%PDF-old", "es", {"balance": "MXN 1.00"})

    def broken(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        kept_module.keep(path, b"%PDF-new", "es", {"balance": "MXN 2.00"})
    assert path.read_bytes() == b"%PDF-old"
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "1006210_20261130.json",
        "1006210_20261130.pdf",
    ]
    kept = kept_module.load_kept(path)
    assert kept is not None and kept.fields == {"balance": "MXN 1.00"}


def test_a_customer_whose_statement_cannot_be_kept_is_not_sent(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    (home / "statements").write_text("no es una carpeta")
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", DATE)
    assert result.exit_code == 1
    assert statements(smtp) == []
    assert "no se pudo guardar el PDF ([statement] keep)" in result.output


def test_resend_of_the_kept_statement_after_the_next_import(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    """After the next month's import the very statement the customer received goes out:
    the kept PDF, byte for byte, with the figures its e-mail had."""
    run_month(loaded)
    original = next(m for m in statements(smtp) if m.rcpt_tos[0] == "a@agro.example.mx")
    december = (
        "Sociedad\tCuenta\tNº documento\tClase\tReferencia\tFecha doc.\tVencimiento neto\t"
        "Importe en ML\tML\n"
        "SM02\t0001006210\t1800000099\tRV\tZ-9\t01.12.2026\t31.12.2026\t7.777,00\tMXN\n"
    )
    imported = loaded(
        "ledger", "import", "-", "--date", "2026-12-31", "--yes", input=december.encode()
    )
    assert imported.exit_code == 0, imported.output

    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--date", DATE,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    resent = statements(smtp)[-1]
    assert resent.rcpt_tos == ["contador@example.mx"]
    assert attachment(resent) == attachment(original) == kept_pdf(home).read_bytes()
    assert "1,000.00" in body(resent) and "7,777.00" not in body(resent)
    assert body(resent) == body(original)


def test_resend_builds_from_the_snapshot_when_none_is_kept(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    """Nothing kept for the date: the statement is built from the open items loaded (and
    kept); the exactly-once claim is not taken, so a later plain run still sends to the
    catalog's addresses; ``status`` does not count a resend as the statement's delivery."""
    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--to", "auditor@example.mx", "--date", DATE,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (
        "Reenvío: no hay estado de cuenta guardado para esa fecha; se genera con las "
        "partidas abiertas al 30/11/2026." in result.stderr
    )
    (resent,) = statements(smtp)
    assert resent.rcpt_tos == ["contador@example.mx", "auditor@example.mx"]
    assert resent.message["To"] == "contador@example.mx, auditor@example.mx"
    assert attachment(resent) == kept_pdf(home).read_bytes()
    status = loaded("status", "--sociedad", "SM02", "--format", "json")
    assert status.exit_code == 0, status.output
    states = {r["cliente"]: r["estado"] for r in json.loads(status.stdout)}
    assert states["1006210"] == "pendiente"

    run_month(loaded)

    plain = sorted(m.rcpt_tos for m in statements(smtp)[1:])
    assert plain == [
        ["a@agro.example.mx", "b@agro.example.mx"],
        ["cxp@plomeria.example.mx"],
        ["pagos@ferrelopez.example.mx"],
    ]


def test_resend_keeps_the_company_archive_copy(loaded: Cli, smtp: SmtpServer, home: Path) -> None:
    config = home / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'sender = "portal@example.mx"',
            'sender = "portal@example.mx"\nbcc = "archivo@example.mx"',
        )
    )
    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--date", DATE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (resent,) = statements(smtp)
    assert resent.rcpt_tos == ["contador@example.mx", "archivo@example.mx"]
    assert "archivo" not in resent.message["To"]


def test_resend_without_a_kept_statement_or_a_snapshot_of_the_date(
    loaded: Cli, smtp: SmtpServer, home: Path
) -> None:
    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--date", "2026-10-31",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "No hay estado de cuenta guardado del cliente 1006210 al 31/10/2026" in result.output
    assert "las partidas abiertas de SM02 son al 30/11/2026" in result.output
    assert statements(smtp) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "Con --to indique exactamente un cliente con --cliente."),
        (
            ("--cliente", "1006210", "--cliente", "1004273"),
            "Con --to indique exactamente un cliente con --cliente.",
        ),
        (("--cliente", "1006210", "--all"), "--to no se combina con --all"),
        (("--cliente", "1006210", "--retry-failed", "1"), "--to no se combina con --retry-failed"),
        (("--cliente", "1006210", "--test"), "--to no se combina con --test"),
        (("--cliente", "1006210", "--dry-run"), "--to no se combina con --dry-run"),
    ],
)
def test_resend_usage_errors(
    loaded: Cli, smtp: SmtpServer, extra: tuple[str, ...], message: str
) -> None:
    result = loaded("send", "--sociedad", "SM02", "--to", "contador@example.mx", *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert smtp.messages == []


def test_resend_to_a_held_customer_is_refused(loaded: Cli, smtp: SmtpServer) -> None:
    assert loaded("catalog", "hold", "SM02", "1006210", "--reason", "disputa").exit_code == 0
    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@example.mx",
        "--date", DATE,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "Retenido (no se envía): 1006210 (disputa)" in result.output
    assert smtp.messages == []


def test_resend_addresses_are_validated_like_the_catalog(loaded: Cli, smtp: SmtpServer) -> None:
    result = loaded(
        "send", "--sociedad", "SM02", "--cliente", "1006210", "--to", "contador@", "--date", DATE
    )
    assert result.exit_code == 1
    assert "Correo inválido: «contador@»" in result.output
    assert smtp.messages == []
