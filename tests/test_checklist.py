"""The customer checklist of ``rotomail send``, driven headless with Textual's Pilot."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from rotomail.cli.checklist import (
    ChecklistItem,
    choose_customers,
    filter_items,
    format_money,
    status_text,
)
from rotomail.errors import UsageError


def _item(cliente: str, nombre: str, **balance: str) -> ChecklistItem:
    amounts = {cur: Decimal(v) for cur, v in balance.items()}
    text = " / ".join(f"{cur} {format_money(v)}" for cur, v in amounts.items())
    return ChecklistItem(
        key=cliente,
        cliente=cliente,
        nombre=nombre,
        correos=f"cxc{cliente}@example.test",
        balance_text=text,
        balance=amounts,
    )


ITEMS = [
    _item("2000101", "FERRETERÍA LOS ÁLAMOS SA DE CV", MXN="10000.00"),
    _item("2000102", "TINACOS DEL VALLE SA DE CV", MXN="2345.67"),
    _item("2000103", "HIDRÁULICA PUENTE VIEJO SC", USD="1000.00"),
    _item("2000104", "MATERIALES SAN ISIDRO SA DE CV", MXN="500.00", USD="250.50"),
    _item("2000105", "DISTRIBUIDORA ÁLAMO NORTE SA", MXN="-100.00"),
    _item("3000201", "CONSTRUCTORA BRISA AZUL SA DE CV", USD="20.00"),
]
KEYS = [it.key for it in ITEMS]

Script = Callable[[Any, Any], Awaitable[None]]


def drive(script: Script, items: list[ChecklistItem] | None = None) -> Any:
    """Run the app headless, let ``script(pilot, app)`` press keys; return the app."""
    from rotomail.cli.checklist import CustomerChecklist

    app = CustomerChecklist(ITEMS if items is None else items, "Estados de cuenta — SM02")

    async def main() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            await script(pilot, app)
            await pilot.pause()

    asyncio.run(main())
    return app


def shown_status(app: Any) -> str:
    """The status line exactly as drawn on screen."""
    return str(app.query_one("#status").render_line(0).text).strip()


def shown_keys(app: Any) -> list[str]:
    widget = app.query_one("#customers")
    return [widget.get_option_at_index(i).value for i in range(widget.option_count)]


def footer_labels(app: Any) -> dict[str, str]:
    """Footer entries as drawn: description -> key shown."""
    return {k.description: k.key_display for k in app.query("FooterKey")}


# -- pure helpers ---------------------------------------------------------------------------


def test_format_money_rounds_half_up_with_thousands() -> None:
    assert format_money(Decimal("12345.675")) == "12,345.68"
    assert format_money(Decimal("-1000")) == "-1,000.00"
    assert format_money(Decimal("0")) == "0.00"


def test_status_text_totals_per_currency_never_mixed() -> None:
    chosen = {"2000101", "2000103", "2000104"}
    assert status_text(ITEMS, chosen) == "3 de 6 seleccionados — MXN 10,500.00 · USD 1,250.50"
    assert status_text(ITEMS, set()) == "0 de 6 seleccionados"
    assert status_text(ITEMS, chosen, shown=2).endswith("  (mostrando 2 de 6)")
    assert status_text(ITEMS, chosen, shown=6) == status_text(ITEMS, chosen)


def test_filter_matches_number_or_name_ignoring_case_and_accents() -> None:
    assert [it.key for it in filter_items(ITEMS, "alamo")] == ["2000101", "2000105"]
    assert [it.key for it in filter_items(ITEMS, "  ÁLAMOS ")] == ["2000101"]
    assert [it.key for it in filter_items(ITEMS, "3000")] == ["3000201"]
    assert [it.key for it in filter_items(ITEMS, "")] == KEYS
    assert filter_items(ITEMS, "zzz") == []


def test_import_does_not_load_textual() -> None:
    code = "import sys, rotomail.cli.checklist; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_choose_customers_empty_list_and_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_customers([], "x") == []
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(UsageError):
        choose_customers(ITEMS, "x")


def test_duplicate_keys_rejected() -> None:
    from rotomail.cli.checklist import CustomerChecklist

    with pytest.raises(ValueError):
        CustomerChecklist([ITEMS[0], ITEMS[0]], "x")


# -- the app ------------------------------------------------------------------------------


def test_all_selected_by_default_and_enter_sends_all() -> None:
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        seen["status"] = shown_status(app)
        seen["footer"] = footer_labels(app)
        await pilot.press("slash")
        seen["footer_filter"] = footer_labels(app)
        await pilot.press("tab")
        await pilot.press("enter")

    app = drive(script)
    assert app.return_value == KEYS
    assert seen["status"] == "6 de 6 seleccionados — MXN 12,745.67 · USD 1,270.50"
    assert seen["footer"] == {
        "Enviar": "⏎",
        "Marcar/desmarcar": "Espacio",
        "Todos": "a",
        "Ninguno": "n",
        "Filtrar": "/",
        "Cancelar": "Esc",
    }
    assert seen["footer_filter"] == {"Ir a la lista": "↓", "Cancelar": "Esc"}


def test_none_then_pick_two_returns_them_in_list_order() -> None:
    seen: list[str] = []

    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("n")
        seen.append(shown_status(app))
        # Highlight the 4th row first, then go back up to the 2nd: order must not matter.
        await pilot.press("down", "down", "down", "space")
        seen.append(shown_status(app))
        await pilot.press("up", "up", "space")
        seen.append(shown_status(app))
        await pilot.press("enter")

    app = drive(script)
    assert app.return_value == ["2000102", "2000104"]
    assert seen == [
        "0 de 6 seleccionados",
        "1 de 6 seleccionados — MXN 500.00 · USD 250.50",
        "2 de 6 seleccionados — MXN 2,845.67 · USD 250.50",
    ]


def test_all_key_reselects_everything() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("n", "ctrl+a")
        assert shown_status(app).startswith("6 de 6 seleccionados")
        await pilot.press("n", "a")
        await pilot.press("enter")

    assert drive(script).return_value == KEYS


def test_filter_then_toggle_keeps_hidden_rows_state() -> None:
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        # Untick a row that the filter will hide.
        await pilot.press("down", "space")  # 2000102 off
        await pilot.press("slash", *"alamo")  # accent-insensitive, lower case
        seen["shown"] = shown_keys(app)
        seen["status_filtered"] = shown_status(app)
        await pilot.press("enter")  # in the filter: back to the list, does not send
        assert app.return_value is None
        assert app.focused.id == "customers"
        await pilot.press("space")  # 2000101 off (first shown row)
        seen["status_toggled"] = shown_status(app)
        # Clear the filter: every row is back, with the states set above.
        await pilot.press("slash", *["backspace"] * 5, "down")
        seen["shown_after"] = shown_keys(app)
        seen["ticked_after"] = list(app.query_one("#customers").selected)
        await pilot.press("enter")

    app = drive(script)
    assert seen["shown"] == ["2000101", "2000105"]
    assert seen["status_filtered"] == (
        "5 de 6 seleccionados — MXN 10,400.00 · USD 1,270.50  (mostrando 2 de 6)"
    )
    assert seen["status_toggled"] == (
        "4 de 6 seleccionados — MXN 400.00 · USD 1,270.50  (mostrando 2 de 6)"
    )
    assert seen["shown_after"] == KEYS
    assert sorted(seen["ticked_after"]) == ["2000103", "2000104", "2000105", "3000201"]
    assert app.return_value == ["2000103", "2000104", "2000105", "3000201"]


def test_none_with_filter_only_affects_shown_rows() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"2000", "down", "n")
        assert shown_status(app) == "1 de 6 seleccionados — USD 20.00  (mostrando 5 de 6)"
        await pilot.press("enter")

    assert drive(script).return_value == ["3000201"]


def test_filter_by_customer_number_and_no_match() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"0103")
        assert shown_keys(app) == ["2000103"]
        await pilot.press("9")
        assert shown_keys(app) == []
        assert shown_status(app).endswith("(mostrando 0 de 6)")
        await pilot.press("escape")

    assert drive(script).return_value is None


@pytest.mark.parametrize("where", ["list", "filter"])
def test_escape_cancels(where: str) -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("space")
        if where == "filter":
            await pilot.press("slash", *"tina")
        await pilot.press("escape")

    app = drive(script)
    assert app.return_value is None
