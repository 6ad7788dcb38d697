"""Interactive customer checklist shown by ``rotomail send`` before anything is sent.

Mirrors the portal's "Envío masivo" screen: every customer of the sociedad is listed and
selected by default; the user unticks the ones that must not receive their statement.

Textual is imported lazily (on first use of :func:`choose_customers` or of the
``CustomerChecklist`` attribute), so ``import rotomail.cli.checklist`` stays cheap for the CLI.

Keys (also shown in the Footer, in Spanish):

* In the list (focused on start): ``↑``/``↓`` move, ``space`` ticks/unticks the highlighted
  customer, ``a`` (or ``ctrl+a``) ticks every *shown* row, ``n`` (or ``ctrl+n``) unticks every
  shown row, ``/`` jumps to the filter, ``enter`` sends, ``esc`` cancels.
* In the filter: typing filters live by customer number or name (substring, case- and
  accent-insensitive); ``↓``, ``enter`` or ``tab`` go back to the list (``enter`` never sends
  from the filter, so a search cannot fire the mailing by accident); ``esc`` cancels.

Rows hidden by the filter keep their selection state and are still returned.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from rotomail.errors import UsageError

if TYPE_CHECKING:
    from textual.app import App

__all__ = [
    "ChecklistItem",
    "choose_customers",
    "filter_items",
    "format_money",
    "status_text",
]

_CENT = Decimal("0.01")
_NAME_WIDTH = 48  # longest name shown before truncation with an ellipsis


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


def _fold(text: str) -> str:
    """Lower-case and strip accents so "maria" finds "MARÍA"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def filter_items(items: Iterable[ChecklistItem], query: str) -> list[ChecklistItem]:
    """Items whose customer number or name contains ``query`` (case/accent-insensitive)."""
    needle = _fold(query.strip())
    if not needle:
        return list(items)
    return [it for it in items if needle in _fold(it.cliente) or needle in _fold(it.nombre)]


def format_money(amount: Decimal) -> str:
    """``Decimal("12345.675")`` -> ``"12,345.68"`` (half-up, thousands with commas)."""
    return f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


def status_text(items: list[ChecklistItem], selected: set[str], shown: int | None = None) -> str:
    """The status line: count selected and the selected balance per currency.

    E.g. ``"3 de 6 seleccionados — MXN 12,345.67 · USD 1,000.00"``; when a filter hides rows,
    ``shown`` (the number of visible rows) is appended as ``"  (mostrando 2 de 6)"``.
    """
    totals: dict[str, Decimal] = {}
    count = 0
    for item in items:
        if item.key not in selected:
            continue
        count += 1
        for currency, amount in item.balance.items():
            totals[currency] = totals.get(currency, Decimal(0)) + amount
    text = f"{count} de {len(items)} seleccionados"
    if totals:
        text += " — " + " · ".join(f"{cur} {format_money(totals[cur])}" for cur in sorted(totals))
    if shown is not None and shown != len(items):
        text += f"  (mostrando {shown} de {len(items)})"
    return text


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class _Columns:
    """Column widths shared by the header line and every row."""

    cliente: int
    nombre: int
    saldo: int

    @classmethod
    def fit(cls, items: list[ChecklistItem]) -> _Columns:
        return cls(
            cliente=max([len("Cliente"), *(len(it.cliente) for it in items)]),
            nombre=min(_NAME_WIDTH, max([len("Nombre"), *(len(it.nombre) for it in items)])),
            saldo=max([len("Saldo"), *(len(it.balance_text) for it in items)]),
        )

    def line(self, cliente: str, nombre: str, saldo: str, correos: str) -> str:
        return (
            f"{cliente:<{self.cliente}}  {_truncate(nombre, self.nombre):<{self.nombre}}  "
            f"{saldo:>{self.saldo}}  {correos}"
        )


_AppFactory = Callable[[list[ChecklistItem], str], "App[list[str] | None]"]


@cache
def _app_class() -> _AppFactory:
    """Build (once) the Textual app class; kept in a function so textual loads lazily."""
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.content import Content
    from textual.widgets import Footer, Input, SelectionList, Static
    from textual.widgets.selection_list import Selection

    class FilterInput(Input):
        """The filter box: typing filters; down/enter hand the keyboard back to the list."""

        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("down", "app.focus_list", "Ir a la lista", key_display="↓"),
            Binding("enter", "app.focus_list", "Ir a la lista", show=False),
        ]

    class CustomerList(SelectionList[str]):
        """The checklist; Enter sends instead of toggling (space toggles)."""

        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("space", "select", "Marcar/desmarcar", key_display="Espacio"),
            Binding("a,ctrl+a", "select_all", "Todos"),
            Binding("n,ctrl+n", "deselect_all", "Ninguno"),
            Binding("slash", "app.focus_filter", "Filtrar", key_display="/"),
            Binding("enter", "app.send", "Enviar"),
        ]

        def action_select_all(self) -> None:
            self.select_all()

        def action_deselect_all(self) -> None:
            self.deselect_all()

    class CustomerChecklist(App[list[str] | None]):
        """Checklist of customers; ``return_value`` is the selected keys or ``None``."""

        ENABLE_COMMAND_PALETTE = False
        CSS = """
        #title { padding: 0 1; text-style: bold; background: $primary; color: $text; }
        #columns { padding: 0 1 0 6; color: $text-muted; text-style: bold; }
        #customers { height: 1fr; }
        #status { padding: 0 1; background: $boost; text-style: bold; }
        """
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("escape", "cancel", "Cancelar", key_display="Esc"),
        ]

        def __init__(self, items: list[ChecklistItem], title: str = "Clientes") -> None:
            super().__init__()
            keys = [it.key for it in items]
            if len(set(keys)) != len(keys):
                raise ValueError("duplicate checklist keys")
            self.items = list(items)
            self.checklist_title = title
            self.selected_keys: set[str] = set(keys)  # state of every row, shown or not
            self._columns = _Columns.fit(self.items)
            self._shown: list[ChecklistItem] = list(self.items)

        # -- layout ----------------------------------------------------------------------
        def compose(self) -> ComposeResult:
            yield Static(Content(self.checklist_title), id="title")
            yield FilterInput(
                placeholder="Filtrar por número o nombre de cliente…  (/ para buscar)",
                id="filter",
            )
            yield Static(
                Content(self._columns.line("Cliente", "Nombre", "Saldo", "Correo")),
                id="columns",
            )
            yield CustomerList(*self._selections(self.items), id="customers")
            yield Static(Content(self.status), id="status")
            yield Footer()

        def on_mount(self) -> None:
            self.title = self.checklist_title
            self.query_one(CustomerList).focus()

        def _selections(self, items: list[ChecklistItem]) -> list[Selection[str]]:
            return [
                Selection(
                    Content(self._columns.line(it.cliente, it.nombre, it.balance_text, it.correos)),
                    it.key,
                    it.key in self.selected_keys,
                )
                for it in items
            ]

        # -- state -----------------------------------------------------------------------
        @property
        def status(self) -> str:
            return status_text(self.items, self.selected_keys, len(self._shown))

        def _sync_from_list(self) -> None:
            """Copy the widget's state of the shown rows into ``selected_keys``."""
            widget = self.query_one(CustomerList)
            ticked = set(widget.selected)
            for it in self._shown:
                if it.key in ticked:
                    self.selected_keys.add(it.key)
                else:
                    self.selected_keys.discard(it.key)

        def _refresh_status(self) -> None:
            self.query_one("#status", Static).update(Content(self.status))

        def on_selection_list_selected_changed(
            self, event: SelectionList.SelectedChanged[str]
        ) -> None:
            self._sync_from_list()
            self._refresh_status()

        def on_input_changed(self, event: Input.Changed) -> None:
            widget = self.query_one(CustomerList)
            self._sync_from_list()  # never lose a toggle not yet reported by message
            highlighted = widget.highlighted
            keep = (
                widget.get_option_at_index(highlighted).value
                if highlighted is not None and highlighted < widget.option_count
                else None
            )
            self._shown = filter_items(self.items, event.value)
            widget.clear_options()
            widget.add_options(self._selections(self._shown))
            shown_keys = [it.key for it in self._shown]
            if shown_keys:
                widget.highlighted = shown_keys.index(keep) if keep in shown_keys else 0
            self._refresh_status()

        # -- actions ---------------------------------------------------------------------
        def action_focus_list(self) -> None:
            self.query_one(CustomerList).focus()

        def action_focus_filter(self) -> None:
            self.query_one(FilterInput).focus()

        def action_send(self) -> None:
            self._sync_from_list()
            self.exit([it.key for it in self.items if it.key in self.selected_keys])

        def action_cancel(self) -> None:
            self.exit(None)

    return CustomerChecklist


def __getattr__(name: str) -> Any:
    """``rotomail.cli.checklist.CustomerChecklist`` builds the Textual class on first access."""
    if name == "CustomerChecklist":
        return _app_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def choose_customers(items: list[ChecklistItem], title: str) -> list[str] | None:
    """Show the checklist; return the selected keys in list order, or ``None`` if cancelled.

    An empty ``items`` returns ``[]`` without opening the screen. Raises
    :class:`~rotomail.errors.UsageError` when there is no terminal to draw on.
    """
    if not items:
        return []
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "La selección interactiva de clientes requiere una terminal; "
            "sin terminal indique los clientes en la línea de comandos."
        )
    app = _app_class()(items, title)
    return app.run()
