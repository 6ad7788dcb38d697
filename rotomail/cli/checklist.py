"""Interactive customer checklist shown by ``rotomail send`` before anything is sent.

Mirrors the portal's "Envío masivo" screen: every customer of the sociedad is listed and
selected by default (except those already sent for the date); the user unticks the ones that
must not receive their statement, presses Enter, and confirms on a second screen that states
exactly what will be sent.

The state of the list (:class:`ChecklistState`) is plain Python, so it is tested without a
screen. The table is a virtual widget (Textual's line API): it draws only the rows on screen
from that state, so filtering or ticking 20,000 customers never rebuilds a widget per row.
Textual is imported lazily (on first use of :func:`choose_customers` or of the
``CustomerChecklist`` attribute), so ``import rotomail.cli.checklist`` stays cheap.

Keys (also shown in the Footer, in Spanish):

* In the list (focused on start): ``↑``/``↓``/``RePág``/``AvPág``/``Inicio``/``Fin`` move,
  ``space`` ticks/unticks the highlighted customer, ``a`` ticks every *shown* row, ``n``
  unticks every shown row, ``/`` jumps to the filter, ``enter`` opens the confirmation,
  ``esc`` or ``ctrl+c`` cancel.
* In the filter: typing filters live by customer number, name or address (substring, case-
  and accent-insensitive); ``↓``, ``enter`` or ``tab`` go back to the list; ``esc`` or
  ``ctrl+c`` cancel.
* In the confirmation: ``enter`` or ``e`` sends, ``esc`` goes back to the list, ``ctrl+c``
  cancels.

Rows hidden by the filter keep their selection state and ARE sent: the confirmation says how
many of the customers to send are hidden ("(N ocultos por el filtro)").
"""

from __future__ import annotations

import bisect
import sys
import unicodedata
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from rotomail.delivery.report import MODE_TEXT
from rotomail.errors import UsageError

if TYPE_CHECKING:
    from textual.app import App

__all__ = [
    "ChecklistItem",
    "ChecklistState",
    "Columns",
    "choose_customers",
    "format_money",
]

_CENT = Decimal("0.01")
_NAME_MAX = 48  # widest the name column gets
_CORREOS_MAX = 40
_FLEX_MIN = 10  # narrowest a shrinking column gets before the next one gives way


@dataclass(frozen=True)
class ChecklistItem:
    """One customer row of the checklist.

    ``key`` is what :func:`choose_customers` returns (unique within the list); ``balance``
    holds the open balance per currency code and is never summed across currencies;
    ``balance_text`` is the ready-made text shown in the row.
    """

    key: str
    cliente: str
    nombre: str
    correos: str
    balance_text: str
    balance: dict[str, Decimal] = field(hash=False)
    idioma: str = ""


# Row kinds: what a row is and whether it can be ticked.
SELECTABLE = "ok"
ALREADY_SENT = "sent"  # selectable, starts unticked
HELD = "held"  # shown, never selectable
MISSING = "missing"  # open items but no catalog entry: shown, never selectable
KIND_TEXT = {SELECTABLE: "", ALREADY_SENT: "ya enviado", HELD: "retenido", MISSING: "sin correo"}


def fold(text: str) -> str:
    """Lower-case and strip accents so "maria" finds "MARÍA"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def format_money(amount: Decimal) -> str:
    """``Decimal("12345.675")`` -> ``"12,345.68"`` (half-up, thousands with commas)."""
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


def money_text(totals: dict[str, Decimal]) -> str:
    """``{"USD": 1, "MXN": 2}`` -> ``"MXN 2.00 · USD 1.00"``; empty -> ``""``."""
    return " · ".join(f"{cur} {format_money(totals[cur])}" for cur in sorted(totals))


class ChecklistState:
    """Rows, filter, cursor and selection of the checklist, without any screen.

    Rows are the selectable items in the given order, then the held ones, then the missing
    ones. ``shown`` holds the indices (ascending) of the rows the filter lets through;
    ``selected`` the indices of ticked rows, shown or not.
    """

    def __init__(
        self,
        items: Sequence[ChecklistItem],
        *,
        missing: Sequence[ChecklistItem] = (),
        held: Sequence[ChecklistItem] = (),
        already_sent: Collection[str] = (),
    ) -> None:
        keys = [it.key for it in items]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate checklist keys")
        sent = set(already_sent)
        self.rows: list[ChecklistItem] = [*items, *held, *missing]
        self.kinds: list[str] = [
            *(ALREADY_SENT if it.key in sent else SELECTABLE for it in items),
            *(HELD for _ in held),
            *(MISSING for _ in missing),
        ]
        self.selectable_count = len(items)
        self._hay = [fold(f"{it.cliente}\t{it.nombre}\t{it.correos}") for it in self.rows]
        self.selected: set[int] = {
            i for i, kind in enumerate(self.kinds) if kind == SELECTABLE
        }
        self.shown: list[int] = list(range(len(self.rows)))
        self.query = ""
        self.cursor = 0  # position within ``shown``
        self._totals: dict[str, Decimal] | None = None

    # -- counts -----------------------------------------------------------------------------
    def count(self, kind: str) -> int:
        return self.kinds.count(kind)

    @property
    def filtered(self) -> bool:
        return bool(self.query)

    def selected_keys(self) -> list[str]:
        """Keys of the ticked rows, in list order."""
        return [self.rows[i].key for i in sorted(self.selected)]

    def hidden_selected(self) -> int:
        """Ticked rows the filter hides."""
        if not self.filtered:
            return 0
        shown_selected = sum(1 for i in self.shown if i in self.selected)
        return len(self.selected) - shown_selected

    def totals(self) -> dict[str, Decimal]:
        """Open balance of the ticked rows per currency (cached until the selection changes)."""
        if self._totals is None:
            totals: dict[str, Decimal] = {}
            for i in self.selected:
                for currency, amount in self.rows[i].balance.items():
                    totals[currency] = totals.get(currency, Decimal(0)) + amount
            self._totals = totals
        return self._totals

    def status_text(self) -> str:
        """E.g. ``"3 de 6 seleccionados — MXN 12,345.67 · USD 1,000.00"`` plus filter notes."""
        text = f"{len(self.selected)} de {self.selectable_count} seleccionados"
        if money := money_text(self.totals()):
            text += f" — {money}"
        if self.filtered:
            text += f"  (mostrando {len(self.shown)} de {len(self.rows)}"
            if hidden := self.hidden_selected():
                text += f"; {hidden} seleccionados ocultos por el filtro"
            text += ")"
        return text

    def notes_text(self) -> str:
        """Rows that cannot be sent, e.g. ``"sin correo en el catálogo: 2 · retenidos: 1"``."""
        notes = []
        if n := self.count(MISSING):
            notes.append(f"sin correo en el catálogo: {n}")
        if n := self.count(HELD):
            notes.append(f"retenidos: {n}")
        if n := self.count(ALREADY_SENT):
            notes.append(f"ya enviados para esta fecha: {n}")
        return " · ".join(notes)

    # -- filter and cursor ------------------------------------------------------------------
    def set_filter(self, query: str) -> None:
        """Show the rows whose number, name or address contains ``query``; keep the cursor
        on the same row when it stays shown."""
        needle = fold(query.strip())
        previous = fold(self.query.strip())
        current = self.current_row()
        # Typing one more letter can only narrow the previous result.
        pool: Iterable[int] = (
            self.shown if previous and needle.startswith(previous) else range(len(self.rows))
        )
        self.shown = [i for i in pool if needle in self._hay[i]] if needle else list(pool)
        self.query = query
        self.cursor = 0
        if current is not None:
            at = bisect.bisect_left(self.shown, current)
            if at < len(self.shown) and self.shown[at] == current:
                self.cursor = at

    def current_row(self) -> int | None:
        return self.shown[self.cursor] if 0 <= self.cursor < len(self.shown) else None

    def move(self, delta: int) -> None:
        if self.shown:
            self.cursor = max(0, min(len(self.shown) - 1, self.cursor + delta))

    def move_to(self, position: int) -> None:
        self.cursor = 0
        self.move(position)

    # -- selection --------------------------------------------------------------------------
    def selectable(self, row: int) -> bool:
        return self.kinds[row] in (SELECTABLE, ALREADY_SENT)

    def toggle(self) -> bool:
        """Tick/untick the row under the cursor; False when it cannot be ticked."""
        row = self.current_row()
        if row is None or not self.selectable(row):
            return False
        self.selected ^= {row}
        self._totals = None
        return True

    def select_shown(self, on: bool) -> None:
        """Tick (``on``) or untick every shown row that can be ticked."""
        rows = {i for i in self.shown if self.selectable(i)}
        if on:
            self.selected |= rows
        else:
            self.selected -= rows
        self._totals = None


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        text = text[: width - 1] + "…" if width > 0 else ""
    return f"{text:<{width}}"


@dataclass(frozen=True)
class Columns:
    """Column widths for a screen width: the mark, number, state and balance never shrink;
    the name gives way first, then the addresses, then the language column is dropped."""

    cliente: int
    nombre: int
    correos: int
    idioma: int
    estado: int
    saldo: int

    @classmethod
    def fit(cls, state: ChecklistState, width: int) -> Columns:
        rows = state.rows
        cliente = max([len("Cliente"), *(len(it.cliente) for it in rows)])
        saldo = max([len("Saldo"), *(len(it.balance_text) for it in rows)])
        estado = max([0, *(len(KIND_TEXT[k]) for k in set(state.kinds))])
        idioma = len("Idioma") if any(it.idioma for it in rows) else 0
        nombre = min(_NAME_MAX, max([len("Nombre"), *(len(it.nombre) for it in rows)]))
        correos = min(_CORREOS_MAX, max([len("Correo(s)"), *(len(it.correos) for it in rows)]))
        fixed = 3 + 2 + cliente + 2 + saldo + (estado + 2 if estado else 0)
        room = width - fixed - 2 * (2 + (1 if idioma else 0))  # separators of flex columns

        def over() -> int:
            return nombre + correos + idioma - room

        if over() > 0:
            nombre = max(_FLEX_MIN, nombre - over())
        if over() > 0:
            correos = max(_FLEX_MIN, correos - over())
        if over() > 0 and idioma:
            room += 2
            idioma = 0
        if over() > 0:
            room += 2
            correos = 0
            nombre = max(4, room)
        return cls(cliente, nombre, correos, idioma, estado, saldo)

    def line(self, mark: str, item: ChecklistItem | None, estado: str) -> str:
        """One row; ``item`` None gives the heading."""
        cliente, nombre, correos, idioma, saldo = (
            (item.cliente, item.nombre, item.correos, item.idioma, item.balance_text)
            if item is not None
            else ("Cliente", "Nombre", "Correo(s)", "Idioma", "Saldo")
        )
        parts = [f"{mark:<3}", f"{cliente:<{self.cliente}}", _fit(nombre, self.nombre)]
        if self.correos:
            parts.append(_fit(correos, self.correos))
        if self.idioma:
            parts.append(_fit(idioma, self.idioma))
        if self.estado:
            parts.append(f"{estado:<{self.estado}}")
        parts.append(f"{saldo:>{self.saldo}}")
        return "  ".join(parts)


def row_mark(state: ChecklistState, row: int) -> str:
    """``[x]`` ticked, ``[ ]`` not ticked, `` - `` cannot be ticked (readable without colour)."""
    if not state.selectable(row):
        return " - "
    return "[x]" if row in state.selected else "[ ]"


def confirmation_text(
    state: ChecklistState, mode: str, transport: str, *, force: bool = False
) -> list[str]:
    """The lines of the confirmation screen: exactly what Enter/e will send."""
    count = len(state.selected)
    noun = "cliente" if count == 1 else "clientes"
    lines = [
        f"Modo: {MODE_TEXT.get(mode, mode)}",
        f"Transporte: {transport}",
        "",
    ]
    will = f"Se enviará el estado de cuenta a {count} {noun}"
    if hidden := state.hidden_selected():
        will += f" ({hidden} ocultos por el filtro)"
    lines.append(will + ".")
    if money := money_text(state.totals()):
        lines.append(f"Saldo: {money}")
    if hidden:
        lines.append(
            "Los clientes seleccionados que oculta el filtro también se envían; "
            "Esc para volver y revisarlos."
        )
    resend = sum(1 for i in state.selected if state.kinds[i] == ALREADY_SENT)
    if resend and mode == "send":
        lines.append(
            f"{resend} ya enviados para esta fecha: se reenviarán (--force)."
            if force
            else f"{resend} ya enviados para esta fecha: se omitirán (use --force para reenviar)."
        )
    if notes := state.notes_text():
        lines.append(f"No se envían: {notes}.")
    return lines


_AppFactory = Callable[..., "App[list[str] | None]"]


@cache
def _app_class() -> _AppFactory:
    """Build (once) the Textual app class; kept in a function so textual loads lazily."""
    from rich.segment import Segment
    from rich.style import Style
    from textual import events
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.containers import Vertical
    from textual.content import Content
    from textual.geometry import Size
    from textual.message import Message
    from textual.screen import ModalScreen
    from textual.scroll_view import ScrollView
    from textual.strip import Strip
    from textual.widgets import Footer, Input, Static

    heading_style = Style(bold=True, dim=True)
    ticked_style = Style(bold=True)
    blocked_style = Style(dim=True, italic=True)
    cursor_style = Style(reverse=True)

    class SelectionChanged(Message):
        """The ticked rows changed: the status line must be redrawn."""

    class FilterInput(Input):
        """The filter box: typing filters; down/enter/tab hand the keyboard back to the list."""

        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("down", "app.focus_list", "Ir a la lista", key_display="↓"),
            Binding("enter", "app.focus_list", "Ir a la lista", show=False),
        ]

    class CustomerTable(ScrollView, can_focus=True):
        """The virtual table: line 0 is the heading, then the shown rows from ``state``."""

        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("space", "toggle", "Marcar/desmarcar", key_display="Espacio"),
            Binding("a", "select_shown(True)", "Todos"),
            Binding("n", "select_shown(False)", "Ninguno"),
            Binding("slash", "app.focus_filter", "Filtrar", key_display="/"),
            Binding("enter", "app.confirm", "Enviar…"),
            Binding("up", "move(-1)", show=False),
            Binding("down", "move(1)", show=False),
            Binding("pageup", "page(-1)", show=False),
            Binding("pagedown", "page(1)", show=False),
            Binding("home", "move_to(0)", show=False),
            Binding("end", "move_to(-1)", show=False),
        ]
        DEFAULT_CSS = "CustomerTable { overflow-x: hidden; }"

        def __init__(self, state: ChecklistState, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.state = state
            self.columns = Columns.fit(state, 80)

        def on_resize(self, event: events.Resize) -> None:
            self.columns = Columns.fit(self.state, self.scrollable_content_region.width)
            self.rows_changed()

        def rows_changed(self) -> None:
            """The shown rows or the cursor changed: resize, keep the cursor visible, redraw."""
            self.virtual_size = Size(self.scrollable_content_region.width, len(self.state.shown) + 1)
            visible = max(1, self.scrollable_content_region.height - 1)
            top = round(self.scroll_y)
            if self.state.cursor < top:
                top = self.state.cursor
            elif self.state.cursor >= top + visible:
                top = self.state.cursor - visible + 1
            top = max(0, min(top, len(self.state.shown) + 1 - visible - 1))
            self.scroll_to(y=top, animate=False, immediate=True)
            self.refresh()

        def render_line(self, y: int) -> Strip:
            width = self.scrollable_content_region.width
            if y == 0:
                text = self.columns.line("", None, "Estado")
                return Strip([Segment(_fit(text, width), heading_style)])
            position = round(self.scroll_y) + y - 1
            state = self.state
            if position >= len(state.shown):
                return Strip.blank(width)
            row = state.shown[position]
            text = self.columns.line(
                row_mark(state, row), state.rows[row], KIND_TEXT[state.kinds[row]]
            )
            style = (
                ticked_style
                if row in state.selected
                else Style() if state.selectable(row) else blocked_style
            )
            if position == state.cursor and self.has_focus:
                style += cursor_style
            return Strip([Segment(_fit(text, width), style)])

        def on_focus(self) -> None:
            self.refresh()

        def on_blur(self) -> None:
            self.refresh()

        def on_click(self, event: events.Click) -> None:
            position = round(self.scroll_y) + event.y - 1
            if event.y >= 1 and position < len(self.state.shown):
                self.state.move_to(position)
                self.action_toggle()

        # -- actions --------------------------------------------------------------------
        def action_move(self, delta: int) -> None:
            self.state.move(delta)
            self.rows_changed()

        def action_move_to(self, position: int) -> None:
            self.state.move_to(position if position >= 0 else len(self.state.shown))
            self.rows_changed()

        def action_page(self, direction: int) -> None:
            self.action_move(direction * max(1, self.scrollable_content_region.height - 2))

        def action_toggle(self) -> None:
            if self.state.toggle():
                self.post_message(SelectionChanged())
            else:
                self.app.bell()
            self.refresh()

        def action_select_shown(self, on: bool) -> None:
            self.state.select_shown(on)
            self.post_message(SelectionChanged())
            self.refresh()

    class ConfirmScreen(ModalScreen[bool]):
        """States what will be sent; Enter/e confirms, Esc goes back to the list."""

        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("enter,e", "dismiss(True)", "Enviar", key_display="Enter/e"),
            Binding("escape", "dismiss(False)", "Volver a la lista", key_display="Esc"),
        ]
        DEFAULT_CSS = """
        ConfirmScreen { align: center middle; }
        ConfirmScreen > Vertical {
            width: 90%; max-width: 100; height: auto; border: thick $warning;
            padding: 1 2; background: $surface;
        }
        ConfirmScreen #confirm-title { text-style: bold; }
        """

        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

        def compose(self) -> ComposeResult:
            with Vertical():
                yield Static(Content("Confirmar envío"), id="confirm-title")
                yield Static(Content("\n".join(self.lines)), id="confirm-text")
                yield Static(Content("\nEnter o e: enviar · Esc: volver a la lista"))
            yield Footer()

    class CustomerChecklist(App[list[str] | None]):
        """Checklist of customers; ``return_value`` is the keys to send, or ``None``."""

        ENABLE_COMMAND_PALETTE = False
        CSS = """
        #title { padding: 0 1; text-style: bold; background: $primary; color: $text; }
        #customers { height: 1fr; }
        #status { padding: 0 1; background: $boost; text-style: bold; }
        #notes { padding: 0 1; color: $text-muted; }
        """
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("escape", "cancel", "Cancelar", key_display="Esc"),
            Binding("ctrl+c", "cancel", "Cancelar", show=False, priority=True),
        ]

        def __init__(
            self,
            items: Sequence[ChecklistItem],
            title: str = "Clientes",
            *,
            missing: Sequence[ChecklistItem] = (),
            held: Sequence[ChecklistItem] = (),
            already_sent: Collection[str] = (),
            mode: str = "send",
            transport: str = "",
            force: bool = False,
        ) -> None:
            super().__init__()
            self.state = ChecklistState(
                items, missing=missing, held=held, already_sent=already_sent
            )
            self.checklist_title = title
            self.mode = mode
            self.transport = transport
            self.force = force

        def compose(self) -> ComposeResult:
            yield Static(Content(self.checklist_title), id="title")
            yield FilterInput(
                placeholder="Filtrar por número, nombre o correo…  (/ para buscar)",
                id="filter",
            )
            yield CustomerTable(self.state, id="customers")
            yield Static(Content(self.state.status_text()), id="status")
            if notes := self.state.notes_text():
                yield Static(Content(notes), id="notes")
            yield Footer()

        def on_mount(self) -> None:
            self.title = self.checklist_title
            self.query_one(CustomerTable).focus()

        def _refresh_status(self) -> None:
            self.query_one("#status", Static).update(Content(self.state.status_text()))

        def on_selection_changed(self, event: SelectionChanged) -> None:
            self._refresh_status()

        def on_input_changed(self, event: Input.Changed) -> None:
            self.state.set_filter(event.value)
            self.query_one(CustomerTable).rows_changed()
            self._refresh_status()

        # -- actions ---------------------------------------------------------------------
        def action_focus_list(self) -> None:
            self.query_one(CustomerTable).focus()

        def action_focus_filter(self) -> None:
            self.query_one(FilterInput).focus()

        def action_confirm(self) -> None:
            if isinstance(self.screen, ConfirmScreen):
                return
            if not self.state.selected:
                self.bell()
                self.notify("Ningún cliente seleccionado.", severity="warning")
                return
            keys = self.state.selected_keys()
            lines = confirmation_text(self.state, self.mode, self.transport, force=self.force)

            def answered(send: bool | None) -> None:
                if send:
                    self.exit(keys)

            self.push_screen(ConfirmScreen(lines), answered)

        def action_cancel(self) -> None:
            self.exit(None)

    return CustomerChecklist


def __getattr__(name: str) -> Any:
    """``rotomail.cli.checklist.CustomerChecklist`` builds the Textual class on first access."""
    if name == "CustomerChecklist":
        return _app_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def choose_customers(
    items: Sequence[ChecklistItem],
    title: str,
    *,
    missing: Sequence[ChecklistItem] = (),
    held: Sequence[ChecklistItem] = (),
    already_sent: Collection[str] = (),
    mode: str = "send",
    transport: str = "",
    force: bool = False,
) -> list[str] | None:
    """Show the checklist; return the confirmed keys in list order, or ``None`` if cancelled.

    ``missing`` (open items, no catalog entry) and ``held`` rows are shown but never
    selectable; keys in ``already_sent`` start unticked. ``mode`` (send | test | dry-run) and
    ``transport`` are stated on the confirmation screen. An empty ``items`` returns ``[]``
    without opening the screen. Raises :class:`~rotomail.errors.UsageError` when there is
    no terminal to draw on.
    """
    if not items:
        return []
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "La selección interactiva de clientes requiere una terminal; "
            "sin terminal indique los clientes en la línea de comandos."
        )
    app = _app_class()(
        items,
        title,
        missing=missing,
        held=held,
        already_sent=already_sent,
        mode=mode,
        transport=transport,
        force=force,
    )
    return app.run()
