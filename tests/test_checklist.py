"""The customer checklist of ``rotomail send``, driven headless with Textual's Pilot."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import subprocess
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotomail.cli.checklist import (
    CONFIRM_GRACE,
    ChecklistItem,
    ChecklistState,
    Columns,
    choose_customers,
    confirmation_text,
    format_money,
)
from rotomail.errors import UsageError


def _item(cliente: str, nombre: str, **balance: str) -> ChecklistItem:
    amounts = {cur: Decimal(v) for cur, v in balance.items()}
    text = " · ".join(f"{cur} {format_money(v)}" for cur, v in amounts.items())
    return ChecklistItem(
        key=cliente,
        cliente=cliente,
        nombre=nombre,
        correos=f"cxc{cliente}@example.mx",
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
    _item("3000202", "PINTURAS DEL BAJÍO SA DE CV", MXN="75.25"),
    _item("3000203", "AZULEJOS COSTA BRAVA SA", MXN="1.00"),
]
KEYS = [it.key for it in ITEMS]
MISSING = [
    _item("4000301", "VIDRIOS SIN CORREO SA", MXN="300.00"),
    _item("4000302", "TUBOS SIN CORREO SC", MXN="10.00"),
]
HELD = [_item("4000401", "CLIENTE RETENIDO SA", MXN="99.00")]

Script = Callable[[Any, Any], Awaitable[None]]


def drive(
    script: Script,
    items: list[ChecklistItem] | None = None,
    size: tuple[int, int] = (120, 30),
    **options: Any,
) -> Any:
    """Run the app headless, let ``script(pilot, app)`` press keys; return the app."""
    from rotomail.cli.checklist import CustomerChecklist

    options.setdefault("transport", "buzón de salida /tmp/salida")
    app = CustomerChecklist(
        ITEMS if items is None else items, "Estados de cuenta — SM02", **options
    )

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot, app)
            await pilot.pause()

    asyncio.run(main())
    return app


def screen_lines(app: Any) -> list[str]:
    """The whole screen, as text, exactly as drawn."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen(app: Any) -> str:
    return "\n".join(line.rstrip() for line in screen_lines(app))


def shown_status(app: Any) -> str:
    """The status line exactly as drawn on screen."""
    return str(app.query_one("#status").render_line(0).text).strip()


def filter_line(app: Any) -> str:
    """The filter box's line as drawn, without its border."""
    return screen_lines(app)[2].strip("│ ")


def table_rows(app: Any) -> list[str]:
    """The drawn table rows (heading excluded), blank lines dropped."""
    table = app.query_one("#customers")
    lines = [table.render_line(y).text.rstrip() for y in range(1, table.size.height)]
    return [line for line in lines if line]


def shown_keys(app: Any) -> list[str]:
    state = app.state
    return [state.rows[i].key for i in state.shown]


def footer_labels(app: Any) -> dict[str, str]:
    """Footer entries as drawn: description -> key shown."""
    return {k.description: k.key_display for k in app.screen.query("FooterKey")}


async def confirm(pilot: Any, key: str = "e") -> None:
    """Read the confirmation (keys typed ahead of it do not count), then confirm."""
    await pilot.pause(CONFIRM_GRACE)
    await pilot.press(key)


async def burst(app: Any, keys: list[str]) -> None:
    """Post key events straight to the driver with no pause between them: a fast typist."""
    from textual import events

    for key in keys:
        char = key if len(key) == 1 else {"space": " ", "slash": "/"}.get(key)
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


# -- state without a screen -----------------------------------------------------------------


def test_format_money_rounds_half_up_with_thousands() -> None:
    assert format_money(Decimal("12345.675")) == "12,345.68"
    assert format_money(Decimal("-1000")) == "-1,000.00"
    assert format_money(Decimal("0")) == "0.00"


def test_status_totals_per_currency_never_mixed() -> None:
    state = ChecklistState(ITEMS)
    state.select_shown(False)
    for row in (0, 2, 3):
        state.move_to(row)
        state.toggle()
    assert state.status_text() == "3 de 8 seleccionados — MXN 10,500.00 · USD 1,250.50"
    state.select_shown(False)
    assert state.status_text() == "0 de 8 seleccionados"
    assert state.filter_text() == ""
    state.select_shown(True)
    state.set_filter("álamo")
    assert state.filter_text() == "mostrando 2 de 8; 6 seleccionados ocultos"
    state.select_shown(False)
    assert state.filter_text() == "mostrando 2 de 8; 6 seleccionados ocultos"
    state.set_filter("")
    state.select_shown(False)
    state.set_filter("alamo")
    assert state.filter_text() == "mostrando 2 de 8"


def test_filter_matches_number_name_or_address_ignoring_case_and_accents() -> None:
    state = ChecklistState(ITEMS)

    def keys(query: str) -> list[str]:
        state.set_filter(query)
        return shown_keys_of(state)

    assert keys("alamo") == ["2000101", "2000105"]
    assert keys("  ÁLAMOS ") == ["2000101"]
    assert keys("3000") == ["3000201", "3000202", "3000203"]
    assert keys("cxc2000103@") == ["2000103"]
    assert keys("") == KEYS
    assert keys("zzz") == []


def shown_keys_of(state: ChecklistState) -> list[str]:
    return [state.rows[i].key for i in state.shown]


@given(st.lists(st.text(alphabet="aáeoilrs0123 ", max_size=6), max_size=12))
def test_incremental_filter_equals_filtering_from_scratch(queries: list[str]) -> None:
    state = ChecklistState(ITEMS, missing=MISSING, held=HELD)
    for query in queries:
        state.set_filter(query)
        assert shown_keys_of(state) == shown_keys_of(_fresh_filter(query))


def _fresh_filter(query: str) -> ChecklistState:
    state = ChecklistState(ITEMS, missing=MISSING, held=HELD)
    state.set_filter(query)
    return state


def test_missing_and_held_rows_are_counted_and_never_selectable() -> None:
    state = ChecklistState(ITEMS, missing=MISSING, held=HELD, already_sent={"2000102"})
    assert state.notes_text() == (
        "sin correo en el catálogo: 2 · retenidos: 1 · ya enviados para esta fecha: 1"
    )
    assert state.status_text().startswith("7 de 8 seleccionados")
    state.select_shown(True)
    assert state.selected_keys() == KEYS  # a selects the already sent, never missing/held
    state.move_to(len(ITEMS))  # the held row
    assert state.toggle() is False
    assert "4000401" not in state.selected_keys()


@pytest.mark.parametrize(
    ("mode", "word"), [("send", "envío"), ("test", "ensayo"), ("dry-run", "simulación")]
)
def test_confirmation_states_mode_transport_count_and_balance(mode: str, word: str) -> None:
    state = ChecklistState(ITEMS[:3])
    assert confirmation_text(state, mode, "smtp mail.example.mx:587 (starttls)") == [
        f"Modo: {word}",
        "Transporte: smtp mail.example.mx:587 (starttls)",
        "",
        "Se enviará el estado de cuenta a 3 clientes.",
        "Saldo: MXN 12,345.67 · USD 1,000.00",
    ]


def test_confirmation_names_already_sent_and_force() -> None:
    state = ChecklistState(ITEMS[:3], already_sent={"2000101", "2000102"}, missing=MISSING)
    state.select_shown(True)
    lines = confirmation_text(state, "send", "x")
    assert "De ellos, 2 ya enviados para esta fecha: se omiten (use --force para reenviar)." in (
        lines
    )
    assert lines[-1] == "No se envían: sin correo en el catálogo: 2."
    state.move_to(0)
    state.toggle()
    assert "De ellos, 1 ya enviado para esta fecha: se reenvían (--force)." in (
        confirmation_text(state, "send", "x", force=True)
    )
    assert not any("ya enviado" in line for line in confirmation_text(state, "dry-run", "x"))


@pytest.mark.parametrize("width", [72, 80, 100, 120])
def test_columns_never_cut_the_balance_name_gives_way_first(width: int) -> None:
    wide = [
        *ITEMS,
        _item(
            "2000199",
            "COMERCIALIZADORA INTERNACIONAL DEL NOROESTE SA",
            MXN="1234567.89",
            USD="12345.00",
        ),
    ]
    state = ChecklistState(wide, missing=MISSING)
    columns = Columns.fit(state, width)
    assert columns.saldo == len("MXN 1,234,567.89 · USD 12,345.00")
    line = columns.line("[x]", wide[-1], "")
    assert line.endswith("MXN 1,234,567.89 · USD 12,345.00")
    assert len(line) <= width
    natural = Columns.fit(state, 300)
    assert 10 <= columns.nombre <= natural.nombre
    assert columns.correos <= natural.correos and columns.correos <= columns.nombre


def test_import_does_not_load_textual() -> None:
    code = "import sys, rotomail.cli.checklist; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_choose_customers_empty_list_and_no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_customers([], "x") == []
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(UsageError):
        choose_customers(ITEMS, "x")


def test_duplicate_keys_rejected() -> None:
    with pytest.raises(ValueError):
        ChecklistState([ITEMS[0], ITEMS[0]])


# -- the app ------------------------------------------------------------------------------


def test_opens_all_selected_with_footer_and_enter_asks_first() -> None:
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        seen["status"] = shown_status(app)
        seen["footer"] = footer_labels(app)
        await pilot.press("slash")
        seen["footer_filter"] = footer_labels(app)
        await pilot.press("tab", "enter")
        seen["confirm"] = screen(app)
        seen["footer_confirm"] = footer_labels(app)
        await confirm(pilot, "enter")

    app = drive(script)
    assert app.return_value == KEYS
    assert seen["status"] == "8 de 8 seleccionados — MXN 12,821.92 · USD 1,270.50"
    assert seen["footer"] == {
        "Enviar…": "Enter",
        "Marcar": "Espacio",
        "Todos": "a",
        "Ninguno": "n",
        "Filtrar": "/",
        "Cancelar": "Esc",
    }
    assert seen["footer_filter"] == {"Ir a la lista": "↓", "Quitar filtro": "Esc"}
    assert "Confirmar envío" in seen["confirm"]
    assert "Se enviará el estado de cuenta a 8 clientes." in seen["confirm"]
    assert seen["footer_confirm"] == {"Enviar": "Enter/e", "Volver a la lista": "Esc"}


def test_observation_2_filtered_enter_confirms_and_says_how_many_are_hidden() -> None:
    """/ferre shows 1 of 8; Enter must not send: the confirmation says 8 (7 hidden)."""
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"ferre", "enter")
        seen["rows"] = table_rows(app)
        await pilot.press("enter")
        seen["confirm"] = screen(app)
        seen["exited_on_enter"] = app.return_value
        await pilot.press("escape")  # back to the list, nothing sent
        seen["back"] = app.screen_mode
        # Send only the one shown: none, then tick it.
        await pilot.press("slash", "ctrl+u", "enter", "n", "slash", *"ferre", "enter", "space")
        await pilot.press("enter")
        seen["confirm_one"] = screen(app)
        await confirm(pilot)

    app = drive(script, mode="send", transport="smtp mail.example.mx:587 (starttls)")
    assert len(seen["rows"]) == 1 and "FERRETERÍA LOS ÁLAMOS" in seen["rows"][0]
    assert seen["exited_on_enter"] is None
    assert "Modo: envío" in seen["confirm"]
    assert "Transporte: smtp mail.example.mx:587 (starttls)" in seen["confirm"]
    assert (
        "Se enviará el estado de cuenta a 8 clientes (7 ocultos por el filtro)."
        in (seen["confirm"])
    )
    assert "Saldo: MXN 12,821.92 · USD 1,270.50" in seen["confirm"]
    assert seen["back"] == "list"
    assert "Se enviará el estado de cuenta a 1 cliente." in seen["confirm_one"]
    assert "Saldo: MXN 10,000.00" in seen["confirm_one"]
    assert app.return_value == ["2000101"]


def test_enter_with_nothing_selected_stays_in_the_list() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("n", "enter")
        assert app.screen_mode == "list"
        await confirm(pilot)
        await pilot.press("escape")

    assert drive(script).return_value is None


def test_none_then_pick_two_returns_them_in_list_order() -> None:
    seen: list[str] = []

    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("n")
        seen.append(shown_status(app))
        # Tick the 4th row first, then go back up to the 2nd: order must not matter.
        await pilot.press("down", "down", "down", "space")
        seen.append(shown_status(app))
        await pilot.press("up", "up", "space")
        seen.append(shown_status(app))
        await pilot.press("enter")
        await confirm(pilot)

    app = drive(script)
    assert app.return_value == ["2000102", "2000104"]
    assert seen == [
        "0 de 8 seleccionados",
        "1 de 8 seleccionados — MXN 500.00 · USD 250.50",
        "2 de 8 seleccionados — MXN 2,845.67 · USD 250.50",
    ]


def test_none_with_filter_only_affects_shown_rows() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"2000", "down", "n")
        assert shown_status(app) == "3 de 8 seleccionados — MXN 76.25 · USD 20.00"
        assert filter_line(app).startswith("Filtro: 2000")
        assert filter_line(app).endswith("mostrando 5 de 8; 3 seleccionados ocultos")
        await pilot.press("enter")
        await confirm(pilot, "enter")

    assert drive(script).return_value == ["3000201", "3000202", "3000203"]


@pytest.mark.parametrize(
    "keys",
    [
        # type, Backspace x4, type
        ["slash", *"ferre", *["backspace"] * 4, *"tinacos"],
        # Ctrl-U then type
        ["slash", *"hidra", "ctrl+u", *"pintu"],
        # everything at once, with toggles and a/n in the list between edits
        [
            "slash",
            *"al",
            "down",
            "space",
            "n",
            "a",
            "slash",
            "ctrl+u",
            *"zz",
            *["backspace"] * 9,
            *"bra",
        ],
    ],
)
def test_observation_3_fast_filter_edits_never_raise(keys: list[str]) -> None:
    async def script(pilot: Any, app: Any) -> None:
        await burst(app, keys)
        await pilot.pause()
        expected = _fresh_filter(app.state.query)
        assert shown_keys(app) == shown_keys_of(expected)
        assert shown_status(app) == app.state.status_text()
        await pilot.press("escape")

    app = drive(script, missing=MISSING, held=HELD)
    assert app.return_value is None


def test_observation_4_clearing_a_filter_on_3000_customers_keeps_the_list_alive() -> None:
    many = [_item(f"{5000000 + i}", f"CLIENTE {i} SA DE CV", MXN="1.00") for i in range(3000)]
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"1234")
        seen["filtered"] = len(table_rows(app))
        await burst(app, ["ctrl+u"])
        await pilot.pause()
        seen["rows"] = table_rows(app)
        seen["status"] = shown_status(app)
        await pilot.press("enter", "end")
        seen["last"] = table_rows(app)[-1]
        await pilot.press("enter")
        seen["confirm"] = screen(app)
        await pilot.press("escape", "ctrl+c")

    app = drive(script, items=many, size=(80, 24))
    assert seen["filtered"] == 1
    # The whole list is back, the cursor still on the customer the filter had found.
    assert len(seen["rows"]) == 24 - 7  # title, filter box (3), heading, status, footer
    assert any(row.startswith("[x]  5001234  CLIENTE 1234 SA DE CV") for row in seen["rows"]), seen[
        "rows"
    ]
    assert seen["status"] == "3000 de 3000 seleccionados — MXN 3,000.00"
    assert seen["last"].startswith("[x]  5002999")
    assert "a 3000 clientes." in seen["confirm"]
    assert app.return_value is None


def test_observation_5_marks_readable_without_colour_balance_whole_at_80x24() -> None:
    wide = [
        _item(
            "2000199",
            "COMERCIALIZADORA INTERNACIONAL DEL NOROESTE SA DE CV",
            MXN="1234567.89",
            USD="12345.00",
        ),
        *ITEMS,
    ]
    seen: dict[str, Any] = {}

    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("down", "space")
        seen["screen"] = screen_lines(app)
        await pilot.press("escape")

    drive(script, items=wide, size=(80, 24), already_sent={"2000102"}, missing=MISSING, held=HELD)
    lines = [line.rstrip() for line in seen["screen"]]
    rows = {line[3:].split()[0]: line for line in lines if line[:3] in ("[x]", "[ ]", " - ")}
    assert all(len(line) <= 80 for line in seen["screen"])
    assert rows["2000199"].startswith("[x]  2000199  COMERCIALIZADORA")
    assert rows["2000199"].endswith("MXN 1,234,567.89 · USD 12,345.00")
    assert rows["2000101"].startswith("[ ]")  # unticked by space, readable without colour
    assert rows["2000102"].startswith("[ ]") and "ya enviado" in rows["2000102"]
    assert rows["4000401"].startswith(" - ") and "retenido" in rows["4000401"]
    assert rows["4000301"].startswith(" - ") and "sin correo" in rows["4000301"]
    text = "\n".join(lines)
    assert "sin correo en el catálogo: 2 · retenidos: 1 · ya enviados para esta fecha: 1" in text
    assert "7 de 9 seleccionados" in text


def test_missing_rows_cannot_be_ticked_from_the_screen() -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("slash", *"sin correo", "enter", "space", "a")
        assert shown_status(app).startswith("8 de 8 seleccionados")
        await pilot.press("slash", "ctrl+u", "enter", "enter")
        await confirm(pilot)

    assert drive(script, missing=MISSING).return_value == KEYS


@pytest.mark.parametrize("where", ["list", "filter", "confirm"])
@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
def test_escape_and_ctrl_c_leave_with_nothing(where: str, key: str) -> None:
    async def script(pilot: Any, app: Any) -> None:
        await pilot.press("space")
        if where == "filter":
            await pilot.press("slash", *"tina")
            if key == "escape":  # Esc clears the filter, the tick kept; a second one leaves
                await pilot.press("escape")
                assert app.screen_mode == "list" and app.state.query == ""
                assert len(app.state.selected) == len(app.state.rows) - 1
                assert len(app.state.shown) == len(app.state.rows)
        if where == "confirm":
            await pilot.press("enter")
            if key == "escape":  # Esc goes back to the list; a second one leaves
                await pilot.press("escape")
                assert app.screen_mode == "list"
        await pilot.press(key)

    assert drive(script).return_value is None


KEY_ALPHABET = [
    *("slash", "backspace", "ctrl+u", "ctrl+w", "space", "a", "n", "tab", "enter", "escape"),
    *("up", "down", "pageup", "pagedown", "home", "end", "f", "e", "r", "1", "0", "á", "wait"),
]


def _check_screen(app: Any) -> None:
    """The count shown is the real selection; a confirmation states what it would send."""
    shown = shown_status(app)
    assert shown.startswith(f"{len(app.state.selected)} de 10 seleccionados")
    assert shown == app.state.status_text()
    if app.state.filtered:
        assert filter_line(app).endswith(app.state.filter_text())
    if app.screen_mode == "confirm":
        count = len(app._confirm_keys)
        assert f"a {count} cliente" in screen(app)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(KEY_ALPHABET), max_size=40), st.booleans())
def test_random_key_sequences_never_raise_and_the_count_is_true(
    keys: list[str], fast: bool
) -> None:
    """Whatever is pressed, at whatever speed: no exception, the count shown is the real one,
    and what is returned is exactly what the confirmation stated. ``wait`` is a pause long
    enough for a confirmation to be read; ``fast`` sends every key at once."""
    stated: list[list[str]] = []

    async def script(pilot: Any, app: Any) -> None:
        if fast:
            await burst(app, [k for k in keys if k not in ("wait", "escape")])
            await pilot.pause()
            _check_screen(app)
            await pilot.press("ctrl+c")
            return
        for key in keys:
            if app.return_value is not None or (key == "escape" and app.screen_mode != "confirm"):
                break
            if app.screen_mode == "confirm":
                stated.append(list(app._confirm_keys))
            if key == "wait":
                await pilot.pause(CONFIRM_GRACE)
            else:
                await pilot.press(key)
            if app.return_value is None:
                _check_screen(app)
        if app.return_value is None:
            await pilot.press("ctrl+c")

    items = [*ITEMS, _item("2000199", "FERRE Ñ", MXN="1"), _item("2000198", "RRR", USD="2")]
    app = drive(script, items=items, missing=MISSING, held=HELD)
    if fast:
        assert app.return_value is None  # typed ahead, a confirmation never confirms
    elif app.return_value is not None:
        assert app.return_value == stated[-1]
        assert set(app.return_value) <= {it.key for it in items}


def test_a_double_enter_typed_ahead_does_not_confirm() -> None:
    """Enter Enter (or Enter e) in one burst opens the confirmation and stops there."""

    async def script(pilot: Any, app: Any) -> None:
        await burst(app, ["slash", *"ferre", "enter", "enter", "enter", "e"])
        await pilot.pause()
        assert app.screen_mode == "confirm"
        assert app.return_value is None
        await confirm(pilot)

    assert drive(script).return_value == KEYS


def test_the_collector_column_and_filter() -> None:
    items = [
        dataclasses.replace(item, ejecutivo="C1" if n % 2 else "C2") for n, item in enumerate(ITEMS)
    ]
    state = ChecklistState(items)
    columns = Columns.fit(state, 200)
    assert columns.line("   ", None, "").split()[-2:] == ["Ejecutivo", "Saldo"]
    assert "  C2  " in columns.line("[x]", items[0], "")
    state.set_filter("ej:c1")
    assert [state.rows[i].cliente for i in state.shown] == [it.cliente for it in items[1::2]]
    # without collectors, no column
    assert Columns.fit(ChecklistState(ITEMS), 200).ejecutivo == 0
    # tight: the collector column gives way before the name does
    assert Columns.fit(state, 72).ejecutivo == 0
