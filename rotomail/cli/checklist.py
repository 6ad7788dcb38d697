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
* In the filter: typing filters live by customer number, name, address or collector
  (substring, case- and accent-insensitive; ``ej:C1`` for collector C1's customers); ``↓``,
  ``enter`` or ``tab`` go back to the list; ``esc`` or ``ctrl+c`` cancel.
* In the confirmation: ``enter`` or ``e`` sends, ``esc`` goes back to the list, ``ctrl+c``
  cancels.

Rows hidden by the filter keep their selection state and ARE sent: the confirmation says how
many of the customers to send are hidden ("(N ocultos por el filtro)").
"""

from __future__ import annotations

import bisect
import re
import signal
import sys
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from rotomail.errors import UsageError
from rotomail.words import Mode, spanish

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
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_NAME_MAX = 48  # widest the name column gets
_CORREOS_MAX = 40
_FLEX_MIN = 10  # narrowest a shrinking column gets before the next one gives way
DISPUTED_HEADING = "En aclaración"


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
    ejecutivo: str = ""  # the collector's code (the master's "Encargado")
    disputed_text: str = ""  # in dispute (``ledger dispute``), in the balance, not overdue


# Row kinds: what a row is and whether it can be ticked.
SELECTABLE = "ok"
ALREADY_SENT = "sent"  # selectable, starts unticked
HELD = "held"  # shown, never selectable
MISSING = "missing"  # open items but no catalog entry: shown, never selectable
BELOW_MINIMUM = "below"  # balance under the run's minimum (--min-balance): never selectable
IN_CREDIT = "credit"  # nothing owed (--skip-credit): never selectable
KIND_TEXT = {
    SELECTABLE: "",
    ALREADY_SENT: "ya enviado",
    HELD: "retenido",
    MISSING: "sin correo",
    BELOW_MINIMUM: "bajo el mínimo",
    IN_CREDIT: "saldo a favor",
}


def fold(text: str) -> str:
    """Lower-case and strip accents so "maria" finds "MARÍA"."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.casefold()))


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
        below_minimum: Sequence[ChecklistItem] = (),
        in_credit: Sequence[ChecklistItem] = (),
    ) -> None:
        keys = [it.key for it in items]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate checklist keys")
        sent = set(already_sent)
        self.rows: list[ChecklistItem] = [*items, *below_minimum, *in_credit, *held, *missing]
        self.kinds: list[str] = [
            *(ALREADY_SENT if it.key in sent else SELECTABLE for it in items),
            *(BELOW_MINIMUM for _ in below_minimum),
            *(IN_CREDIT for _ in in_credit),
            *(HELD for _ in held),
            *(MISSING for _ in missing),
        ]
        self.selectable_count = len(items)
        self._hay = [
            fold(f"{it.cliente}\t{it.nombre}\t{it.correos}\tej:{it.ejecutivo}") for it in self.rows
        ]
        self.selected: set[int] = {i for i, kind in enumerate(self.kinds) if kind == SELECTABLE}
        self.shown: list[int] = list(range(len(self.rows)))
        self.query = ""
        self.cursor = 0  # position within ``shown``
        # Balance of the ticked rows per currency, kept up to date on every change so a
        # toggle costs one row, not a sum over 20,000 (``_per_currency`` counts the rows).
        self._totals: dict[str, Decimal] = {}
        self._per_currency: dict[str, int] = {}
        for i in self.selected:
            self._count_in(i, 1)

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
        """Open balance of the ticked rows per currency."""
        return dict(self._totals)

    def _count_in(self, row: int, sign: int) -> None:
        for currency, amount in self.rows[row].balance.items():
            rows = self._per_currency.get(currency, 0) + sign
            total = self._totals.get(currency, Decimal(0)) + sign * amount
            if rows:
                self._per_currency[currency], self._totals[currency] = rows, total
            else:
                del self._per_currency[currency], self._totals[currency]

    def status_text(self) -> str:
        """E.g. ``"3 de 6 seleccionados — MXN 12,345.67 · USD 1,000.00"``."""
        text = f"{len(self.selected)} de {self.selectable_count} seleccionados"
        if money := money_text(self.totals()):
            text += f" — {money}"
        return text

    def filter_text(self) -> str:
        """What the filter shows and hides, e.g. ``"mostrando 2 de 8; 3 seleccionados
        ocultos"``; empty without a filter."""
        return self.filter_texts()[0]

    def filter_texts(self) -> list[str]:
        """``filter_text`` and shorter forms of it, longest first, for a narrow screen:
        the hidden selected customers are never left out."""
        if not self.filtered:
            return [""]
        shown, total = len(self.shown), len(self.rows)
        hidden = self.hidden_selected()
        if not hidden:
            return [f"mostrando {shown} de {total}", f"{shown} de {total}"]
        return [
            f"mostrando {shown} de {total}; {hidden} seleccionados ocultos",
            f"{shown} de {total}; {hidden} seleccionados ocultos",
            f"{shown} de {total}; {hidden} ocultos",
        ]

    def notes_text(self, *, unsendable_only: bool = False) -> str:
        """Rows that cannot be sent (and, unless ``unsendable_only``, those already sent),
        e.g. ``"sin correo en el catálogo: 2 · retenidos: 1"``."""
        notes = []
        if n := self.count(MISSING):
            notes.append(f"sin correo en el catálogo: {n}")
        if n := self.count(HELD):
            notes.append(f"retenidos: {n}")
        if n := self.count(BELOW_MINIMUM):
            notes.append(f"omitidos bajo el saldo mínimo: {n}")
        if n := self.count(IN_CREDIT):
            notes.append(f"omitidos sin saldo a cargo: {n}")
        if (n := self.count(ALREADY_SENT)) and not unsendable_only:
            notes.append(f"ya enviados para esta fecha: {n}")
        return " · ".join(notes)

    # -- filter and cursor ------------------------------------------------------------------
    def set_filter(self, query: str) -> None:
        """Show the rows whose number, name, address or ``ej:<collector>`` contains
        ``query``; keep the cursor on the same row when it stays shown."""
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
        sign = -1 if row in self.selected else 1
        self.selected ^= {row}
        self._count_in(row, sign)
        return True

    def select_shown(self, on: bool) -> None:
        """Tick (``on``) or untick every shown row that can be ticked."""
        selected = self.selected
        changed = [i for i in self.shown if (i in selected) != on and self.selectable(i)]
        if on:
            selected.update(changed)
        else:
            selected.difference_update(changed)
        for i in changed:
            self._count_in(i, 1 if on else -1)


def _fit(text: str, width: int) -> str:
    if len(text) > width:
        text = text[: width - 1] + "…" if width > 0 else ""
    return f"{text:<{width}}"


@dataclass(frozen=True)
class Columns:
    """Column widths for a screen width: the mark, number, state and balance never shrink;
    the name and the addresses give way (the addresses keep at most two fifths of the room),
    the language and collector columns are dropped when the room is tight, then the
    addresses."""

    cliente: int
    nombre: int
    correos: int
    idioma: int
    estado: int
    saldo: int
    ejecutivo: int = 0
    aclaracion: int = 0  # the disputed amount's column; 0 when no row has any

    @classmethod
    def natural(cls, state: ChecklistState) -> Columns:
        """The widths every row fits in (computed once per list: a pass over every row)."""
        rows = state.rows
        return cls(
            cliente=max([len("Cliente"), *(len(it.cliente) for it in rows)]),
            nombre=min(_NAME_MAX, max([len("Nombre"), *(len(it.nombre) for it in rows)])),
            correos=min(_CORREOS_MAX, max([len("Correo(s)"), *(len(it.correos) for it in rows)])),
            idioma=len("Idioma") if any(it.idioma for it in rows) else 0,
            estado=max([0, *(len(KIND_TEXT[k]) for k in set(state.kinds))]),
            saldo=max([len("Saldo"), *(len(it.balance_text) for it in rows)]),
            ejecutivo=max([len("Ejecutivo"), *(len(it.ejecutivo) for it in rows)])
            if any(it.ejecutivo for it in rows)
            else 0,
            aclaracion=max([len(DISPUTED_HEADING), *(len(it.disputed_text) for it in rows)])
            if any(it.disputed_text for it in rows)
            else 0,
        )

    @classmethod
    def fit(cls, state: ChecklistState | Columns, width: int) -> Columns:
        natural = state if isinstance(state, Columns) else cls.natural(state)
        cliente, nombre, correos = natural.cliente, natural.nombre, natural.correos
        idioma, estado, saldo = natural.idioma, natural.estado, natural.saldo
        ejecutivo, aclaracion = natural.ejecutivo, natural.aclaracion
        fixed = 3 + 2 + cliente + 2 + saldo + (estado + 2 if estado else 0)
        fixed += aclaracion + 2 if aclaracion else 0
        flex = width - fixed - 4  # name and addresses, each with its separator
        if ejecutivo:
            flex -= ejecutivo + 2
        if nombre + correos > flex and ejecutivo and flex < 3 * _FLEX_MIN:
            flex += ejecutivo + 2
            ejecutivo = 0
        if idioma:
            flex -= idioma + 2
        if nombre + correos > flex and idioma and flex < 3 * _FLEX_MIN:
            flex += idioma + 2
            idioma = 0
        if nombre + correos > flex:
            # The addresses keep up to two fifths of the room; the name takes what is left.
            correos = min(correos, max(_FLEX_MIN, flex * 2 // 5))
            nombre = min(nombre, flex - correos)
            if nombre < _FLEX_MIN:
                correos = 0
                nombre = flex + 2
        nombre = max(nombre, 4)
        return cls(cliente, nombre, correos, idioma, estado, saldo, ejecutivo, aclaracion)

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
        if self.ejecutivo:
            parts.append(_fit(item.ejecutivo if item is not None else "Ejecutivo", self.ejecutivo))
        if self.estado:
            parts.append(f"{estado:<{self.estado}}")
        parts.append(f"{saldo:>{self.saldo}}")
        if self.aclaracion:
            disputed = item.disputed_text if item is not None else DISPUTED_HEADING
            parts.append(f"{disputed:>{self.aclaracion}}")
        return "  ".join(parts)


def row_mark(state: ChecklistState, row: int) -> str:
    """``[x]`` ticked, ``[ ]`` not ticked, `` - `` cannot be ticked (readable without colour)."""
    if not state.selectable(row):
        return " - "
    return "[x]" if row in state.selected else "[ ]"


def confirmation_text(
    state: ChecklistState,
    mode: Mode,
    transport: str,
    *,
    force: bool = False,
    statement_date: date | None = None,
    warning: str = "",
) -> list[str]:
    """The lines of the confirmation screen: exactly what Enter/e will send, as of which
    date (and the warning when it is not the open items' date)."""
    count = len(state.selected)
    noun = "cliente" if count == 1 else "clientes"
    lines = [f"Modo: {spanish(mode)}", f"Transporte: {transport}"]
    if statement_date is not None:
        lines.append(f"Fecha de corte: {statement_date:%d/%m/%Y}")
    if warning:
        lines.append(warning)
    lines.append("")
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
    if resend and mode == Mode.SEND:
        already = "1 ya enviado" if resend == 1 else f"{resend} ya enviados"
        lines.append(
            f"De ellos, {already} para esta fecha: "
            + ("se reenvían (--force)." if force else "se omiten (use --force para reenviar).")
        )
    if notes := state.notes_text(unsendable_only=True):
        lines.append(f"No se envían: {notes}.")
    return lines


_AppFactory = Callable[..., "App[list[str] | None]"]

# Keys that edit the filter or move the cursor, by mode.
_MOVES = {"up": -1, "down": 1}
_PAGES = {"pageup": -1, "pagedown": 1}
CONFIRM_GRACE = 0.3  # seconds: Enter/e typed ahead of the confirmation do not confirm it


@cache
def _app_class() -> _AppFactory:
    """Build (once) the Textual app class; kept in a function so textual loads lazily.

    Every key is handled by the app itself, in the order it arrives, from a plain ``mode``
    (list, filter or confirm) — never by moving the keyboard focus between widgets, which
    Textual does asynchronously: keys typed faster than a focus change would land in the
    wrong place.
    """
    from rich.segment import Segment
    from rich.style import Style
    from textual import events
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.content import Content
    from textual.strip import Strip
    from textual.widget import Widget
    from textual.widgets import Footer, Static

    heading_style = Style(bold=True, dim=True)
    ticked_style = Style(bold=True)
    blocked_style = Style(dim=True, italic=True)
    cursor_style = Style(reverse=True)

    class CustomerTable(Widget):
        """The virtual table: line 0 is the heading, then the shown rows from ``state``
        starting at row ``top``. It scrolls itself (no Textual scrolling, whose offsets
        settle only after the next layout) so the cursor is always on screen."""

        def __init__(self, state: ChecklistState, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.state = state
            self.top = 0
            self.natural = Columns.natural(state)
            self.columns = Columns.fit(self.natural, 80)

        def on_resize(self, event: events.Resize) -> None:
            self.columns = Columns.fit(self.natural, self.size.width)
            self.rows_changed()

        def rows_changed(self) -> None:
            """The shown rows or the cursor changed: keep the cursor on screen, redraw."""
            visible = max(1, self.size.height - 1)
            cursor = self.state.cursor
            top = min(self.top, cursor)
            if cursor >= top + visible:
                top = cursor - visible + 1
            self.top = max(0, min(top, len(self.state.shown) - visible))
            self.refresh()

        def render_line(self, y: int) -> Strip:
            width = self.size.width
            if y == 0:
                text = self.columns.line("", None, "Estado")
                return Strip([Segment(_fit(text, width), heading_style)])
            position = self.top + y - 1
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
                else Style()
                if state.selectable(row)
                else blocked_style
            )
            if position == state.cursor:
                style += cursor_style
            return Strip([Segment(_fit(text, width), style)])

        def on_click(self, event: events.Click) -> None:
            position = self.top + event.y - 1
            if event.y >= 1 and position < len(self.state.shown):
                self.state.move_to(position)
                self.app.action_tick()  # type: ignore[attr-defined]

        def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
            self.state.move(3)
            self.rows_changed()

        def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
            self.state.move(-3)
            self.rows_changed()

    class CustomerChecklist(App[list[str] | None]):
        """Checklist of customers; ``return_value`` is the keys to send, or ``None``."""

        ENABLE_COMMAND_PALETTE = False
        AUTO_FOCUS = None
        CSS = """
        #title { padding: 0 1; text-style: bold; background: $primary; color: $text; }
        #filter { padding: 0 1; border: round $secondary; }
        #filter.-active { border: round $accent; }
        #customers { height: 1fr; }
        #confirm { height: 1fr; padding: 1 2; border: thick $warning; display: none; }
        #warning { padding: 0 1; color: $warning; text-style: bold; }
        #status { padding: 0 1; background: $boost; text-style: bold; }
        #notes { padding: 0 1; color: $text-muted; }
        """
        # Shown in the footer (and run when clicked there); the keys themselves are read by
        # ``on_event`` below, in arrival order.
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("space", "tick", "Marcar", key_display="Espacio"),
            Binding("a", "select_shown(True)", "Todos"),
            Binding("n", "select_shown(False)", "Ninguno"),
            Binding("slash", "start_filter", "Filtrar", key_display="/"),
            Binding("down", "end_filter", "Ir a la lista", key_display="↓"),
            Binding("enter", "confirm", "Enviar…", key_display="Enter"),
            Binding("e", "send", "Enviar", key_display="Enter/e"),
            Binding("escape", "return_to_list", "Volver a la lista", key_display="Esc"),
            Binding("escape", "clear_filter", "Quitar filtro", key_display="Esc"),
            Binding("escape", "cancel", "Cancelar", key_display="Esc"),
        ]
        _ACTIONS_BY_MODE: ClassVar[dict[str, set[str]]] = {
            "list": {"tick", "select_shown", "start_filter", "confirm", "cancel"},
            "filter": {"end_filter", "clear_filter"},
            "confirm": {"send", "return_to_list"},
        }

        def __init__(
            self,
            items: Sequence[ChecklistItem],
            title: str = "Clientes",
            *,
            missing: Sequence[ChecklistItem] = (),
            held: Sequence[ChecklistItem] = (),
            already_sent: Collection[str] = (),
            mode: Mode = Mode.SEND,
            transport: str = "",
            force: bool = False,
            statement_date: date | None = None,
            warning: str = "",
            below_minimum: Sequence[ChecklistItem] = (),
            in_credit: Sequence[ChecklistItem] = (),
        ) -> None:
            super().__init__()
            self.state = ChecklistState(
                items,
                missing=missing,
                held=held,
                already_sent=already_sent,
                below_minimum=below_minimum,
                in_credit=in_credit,
            )
            self.checklist_title = title
            self.mode = mode
            self.transport = transport
            self.force = force
            self.statement_date = statement_date
            self.warning = warning
            self.screen_mode = "list"  # list | filter | confirm
            self._confirm_opened = 0.0
            self._confirm_keys: list[str] = []
            self._status_text = self.state.status_text()

        def compose(self) -> ComposeResult:
            yield Static(Content(self.checklist_title), id="title")
            if self.warning:
                yield Static(Content(self.warning), id="warning")
            yield Static(self._filter_content(), id="filter")
            yield CustomerTable(self.state, id="customers")
            yield Static(id="confirm")
            yield Static(Content(self.state.status_text()), id="status")
            if notes := self.state.notes_text():
                yield Static(Content(notes), id="notes")
            yield Footer()

        def on_mount(self) -> None:
            self.title = self.checklist_title

        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            """Footer entries of the current mode only (False hides the others)."""
            modes = [m for m, actions in self._ACTIONS_BY_MODE.items() if action in actions]
            return not modes or self.screen_mode in modes

        # -- keys ------------------------------------------------------------------------
        async def on_event(self, event: events.Event) -> None:
            if isinstance(event, events.Key):
                event.stop()
                self._on_key_in_order(event)
                return
            await super().on_event(event)

        def _on_key_in_order(self, event: events.Key) -> None:
            key = event.key
            if key == "ctrl+c":
                self.action_cancel()
            elif self.screen_mode == "confirm":
                if key == "escape":
                    self.action_return_to_list()
                elif key in ("enter", "e") and event.time - self._confirm_opened >= CONFIRM_GRACE:
                    self.action_send()
            elif key == "escape" and self.screen_mode == "filter":
                self.action_clear_filter()  # the ticks stay; a second Esc leaves
            elif key == "escape":
                self.action_cancel()
            elif key in _MOVES and not (self.screen_mode == "filter" and key == "down"):
                self._move(_MOVES[key])
            elif key in _PAGES:
                self._move(_PAGES[key] * max(1, self._table.size.height - 2))
            elif self.screen_mode == "filter":
                self._filter_key(event)
            elif key == "home":
                self._move(-len(self.state.shown))
            elif key == "end":
                self._move(len(self.state.shown))
            elif key == "space":
                self.action_tick()
            elif key in ("a", "n"):
                self.action_select_shown(key == "a")
            elif key == "slash":
                self.action_start_filter()
            elif key == "enter":
                self._open_confirmation(event.time)

        def _filter_key(self, event: events.Key) -> None:
            query = self.state.query
            if event.key in ("enter", "tab", "down"):
                self.action_end_filter()
                return
            if event.key == "backspace":
                query = query[:-1]
            elif event.key == "ctrl+u":
                query = ""
            elif event.key == "ctrl+w":
                query = query.rstrip().rpartition(" ")[0]
            elif event.is_printable and event.character:
                query += event.character
            else:
                return
            self.state.set_filter(query)
            self._table.rows_changed()
            self.query_one("#filter", Static).update(self._filter_content(), layout=False)
            self._refresh_status()

        # -- drawing ---------------------------------------------------------------------
        @property
        def _table(self) -> Any:
            return self.query_one("#customers")

        def _filter_content(self) -> Content:
            if self.screen_mode == "filter" or self.state.query:
                cursor = "▏" if self.screen_mode == "filter" else ""
                query = f"Filtro: {self.state.query}{cursor}"
                width = self.query_one("#filter").content_region.width
                texts = self.state.filter_texts()
                # the longest form of the counts that fits beside the query (80 columns)
                shown = next((t for t in texts if len(query) + 2 + len(t) <= width), texts[-1])
                room = width - 2 - len(shown)
                if len(query) > room > 10:  # a long query: its end, where the typing is
                    query = "Filtro: …" + query[len(query) - room + 9 :]
                gap = max(2, width - len(query) - len(shown))
                return Content(f"{query}{' ' * gap}{shown}")
            return Content("/ para filtrar por número, nombre o correo")

        def _refresh_filter(self) -> None:
            widget = self.query_one("#filter", Static)
            widget.update(self._filter_content())
            widget.set_class(self.screen_mode == "filter", "-active")

        def _refresh_status(self) -> None:
            """Redraw the status and filter lines; lay the screen out again only when the
            status wraps differently (a layout costs more than the whole redraw)."""
            if self.state.filtered:
                self.query_one("#filter", Static).update(self._filter_content(), layout=False)
            widget = self.query_one("#status", Static)
            text = self.state.status_text()
            width = max(1, widget.content_region.width)
            relayout = -(-len(text) // width) != -(-len(self._status_text) // width)
            self._status_text = text
            widget.update(Content(text), layout=relayout)

        def _set_mode(self, mode: str) -> None:
            self.screen_mode = mode
            confirming = mode == "confirm"
            self.query_one("#confirm").display = confirming
            self._table.display = not confirming
            self._refresh_filter()
            self.refresh_bindings()

        def _move(self, delta: int) -> None:
            self.state.move(delta)
            self._table.rows_changed()

        # -- actions ---------------------------------------------------------------------
        def action_tick(self) -> None:
            if not self.state.toggle():
                self.bell()
            self._table.refresh()
            self._refresh_status()

        def action_select_shown(self, on: bool) -> None:
            self.state.select_shown(on)
            self._table.refresh()
            self._refresh_status()

        def action_start_filter(self) -> None:
            self._set_mode("filter")

        def action_end_filter(self) -> None:
            self._set_mode("list")

        def action_clear_filter(self) -> None:
            """Esc in the filter: every row shown again, back to the list, ticks kept."""
            if self.state.query:
                self.state.set_filter("")
                self._table.rows_changed()
                self._refresh_status()
            self._set_mode("list")

        def action_confirm(self) -> None:
            self._open_confirmation(0.0)

        def _open_confirmation(self, opened: float) -> None:
            """Show what will be sent; Enter/e sent before ``opened + CONFIRM_GRACE`` (typed
            ahead, e.g. a double Enter) does not confirm."""
            if not self.state.selected:
                self.bell()
                self.notify("Ningún cliente seleccionado.", severity="warning")
                return
            self._confirm_keys = self.state.selected_keys()
            lines = confirmation_text(
                self.state,
                self.mode,
                self.transport,
                force=self.force,
                statement_date=self.statement_date,
                warning=self.warning,
            )
            text = "\n".join(["Confirmar envío", "", *lines, "", "Enter o e: enviar · Esc: volver"])
            self.query_one("#confirm", Static).update(Content(text))
            self._confirm_opened = opened
            self._set_mode("confirm")

        def action_send(self) -> None:
            if self.screen_mode == "confirm":
                self.exit(self._confirm_keys)

        def action_return_to_list(self) -> None:
            self._set_mode("list")

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
    mode: Mode = Mode.SEND,
    transport: str = "",
    force: bool = False,
    statement_date: date | None = None,
    warning: str = "",
    below_minimum: Sequence[ChecklistItem] = (),
    in_credit: Sequence[ChecklistItem] = (),
) -> list[str] | None:
    """Show the checklist; return the confirmed keys in list order, or ``None`` if cancelled.

    ``missing`` (open items, no catalog entry), ``held``, ``below_minimum`` and
    ``in_credit`` (left out by the run's balance thresholds) rows are shown but never
    selectable; keys in ``already_sent`` start unticked. ``mode`` (send | test | dry-run) and
    ``transport`` are stated on the confirmation screen, with ``statement_date``; ``warning``
    (the date is not the open items') is shown on both screens. An empty ``items`` returns ``[]``
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
        statement_date=statement_date,
        warning=warning,
        below_minimum=below_minimum,
        in_credit=in_credit,
    )
    with _own_signal_handlers():
        return app.run()


# Textual's terminal driver installs handlers for these (suspend with Ctrl-Z, resume, resize)
# and leaves them behind when the app exits; the run that follows must not inherit them
# (Ctrl-Z and ``fg`` during the send would call into the closed app's event loop).
_TERMINAL_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGTSTP", "SIGCONT", "SIGWINCH", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


@contextmanager
def _own_signal_handlers() -> Iterator[None]:
    """The process's handlers of the terminal's signals, as they were before the checklist."""
    previous = {signum: signal.getsignal(signum) for signum in _TERMINAL_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
