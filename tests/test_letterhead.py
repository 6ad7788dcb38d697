"""The letterhead (logo on every page, address under the legal name), a bad logo refused
before a run, and each part of the PDF renderer drawn alone."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Cli
from PIL import Image
from pypdf import PdfReader
from sample_data import COMPANY

from rotomail.statement.labels import labels
from rotomail.statement.model import Statement, StatementCustomer, StatementItem, build_statement
from rotomail.statement.pdf import (
    _AgingSummary,
    _Canvas,
    _DetailTable,
    _Letterhead,
    _PaymentBlock,
    _StatementPDF,
    render_statement_pdf,
)

CUT = date(2026, 11, 30)
CUSTOMER = StatementCustomer("SM02", "0001006210", "Agroequipos del Bajío S.A. de C.V.")
ADDRESS = "Av. Ejemplo 123, Col. Centro, Monterrey, N.L."


def write_image(path: Path, fmt: str) -> Path:
    Image.new("RGB", (300, 100), (0, 82, 155)).save(path, fmt)
    return path


def statement(count: int, **company: str) -> Statement:
    items = [
        StatementItem(
            documento=str(1_800_000_000 + n),
            tipo="RV",
            referencia=f"A-{n}",
            fecha_documento=CUT - timedelta(days=n + 30),
            vencimiento=CUT - timedelta(days=n),
            importe=Decimal("100.00"),
            moneda="MXN",
        )
        for n in range(count)
    ]
    return build_statement(replace(COMPANY, **company), CUSTOMER, items, CUT)


def images_per_page(pdf: bytes) -> list[int]:
    return [len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_logo_on_every_page_and_address_under_the_name(tmp_path: Path, fmt: str) -> None:
    logo = write_image(tmp_path / f"logo.{fmt.lower()}", fmt)
    pdf = render_statement_pdf(statement(120, logo=str(logo), address=ADDRESS))
    pages = images_per_page(pdf)
    assert len(pages) > 2
    assert set(pages) == {1}
    first = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().splitlines()
    name_at = next(i for i, line in enumerate(first) if "Tinacos Ejemplo" in line)
    assert ADDRESS in first[name_at + 1]


def test_without_logo_no_image(tmp_path: Path) -> None:
    assert images_per_page(render_statement_pdf(statement(3))) == [0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no se pudo leer (No such file or directory)."),
        (b"GIF89a not a png", "no es una imagen PNG ni JPEG."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "la imagen está dañada."),
    ],
)
def test_bad_logo_is_refused_before_the_run(
    loaded: Cli, home: Path, content: bytes | None, message: str
) -> None:
    logo = home / "logo.png"
    if content is not None:
        logo.write_bytes(content)
    config = (home / "config.toml").read_text(encoding="utf-8")
    (home / "config.toml").write_text(config + 'logo = "logo.png"\n', encoding="utf-8")
    result = loaded("send", "--sociedad", "SM02", "--all", "--date", "2026-11-30")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: [companies.SM02] de config.toml: logo = «{logo}»")
    assert result.stderr.rstrip().endswith(message)
    history = loaded("history", "--format", "json")
    assert history.stdout.strip() == "[]"


def test_send_with_logo_and_address(loaded: Cli, home: Path) -> None:
    write_image(home / "logo.png", "PNG")
    config = (home / "config.toml").read_text(encoding="utf-8")
    config += f'logo = "logo.png"\naddress = "{ADDRESS}"\n'
    (home / "config.toml").write_text(config, encoding="utf-8")
    result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", "2026-11-30")
    assert result.exit_code == 0, result.output
    pdf = (home / "outbox" / "corrida-1" / "1006210_20261130.pdf").read_bytes()
    assert images_per_page(pdf) == [1]
    assert ADDRESS in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


# --- each part of the renderer alone ---------------------------------------------------


def draw_alone(part: str, st: Statement) -> str:
    pdf = _StatementPDF(st, labels("es"))
    canvas = _Canvas(pdf)
    canvas.new_page()
    if part == "letterhead":
        _Letterhead(canvas, st, "es").draw()
    elif part == "summary":
        _AgingSummary(canvas, st, "es").draw()
    elif part == "payment":
        _PaymentBlock(canvas, st, "es").draw()
    else:
        _DetailTable(canvas, st, "es", lambda: None).draw()
    return "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(bytes(pdf.output()))).pages
    )


@pytest.mark.parametrize(
    ("part", "present", "absent"),
    [
        (
            "letterhead",
            ["Estado de cuenta", "Tinacos Ejemplo", "No. de cliente: 1006210"],
            ["Resumen"],
        ),
        (
            "summary",
            ["Resumen por moneda", "Por vencer", "300.00"],
            ["Estado de cuenta", "Detalle"],
        ),
        ("payment", ["Instrucciones de pago", "CLABE: 999 180 00123456789 9"], ["Resumen"]),
        ("detail", ["Detalle de partidas abiertas", "Factura", "Total MXN"], ["Resumen"]),
    ],
)
def test_each_part_draws_alone(part: str, present: list[str], absent: list[str]) -> None:
    text = draw_alone(part, statement(3, bank="Banco Ejemplo", clabe="999180001234567899"))
    for expected in present:
        assert expected in text
    for unexpected in absent:
        assert unexpected not in text
