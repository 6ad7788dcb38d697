"""``rotomail catalog``: who receives each customer's statement; holds, changes, missing.

A lazy group, like the root: ``catalog --help`` lists the subcommands from ``SUBCOMMANDS``
and only the module of the subcommand that runs is imported, so ``catalog search`` loads
neither the address validator, nor the paste parser, nor the ledger. The modules are split
by what they need: ``search``, ``export`` (reading entries out), ``edit`` (one entry or
hold at a time), ``holds`` (the held customers), ``paste`` (Alta masiva), ``review`` (the
change trail, who is missing).
"""

from __future__ import annotations

from rotomail.cli.group import LazyGroup, command_group

HELP = "Catálogo de envío: a qué correos va el estado de cuenta de cada cliente."

_EDIT = "rotomail.cli.catalog.edit"
_PASTE = "rotomail.cli.catalog.paste"
_REVIEW = "rotomail.cli.catalog.review"

# name -> (module, the subcommand's help as its docstring gives it, first paragraph), in the
# order ``catalog --help`` lists them. tests/test_catalog_cli_lazy.py checks both against
# the loaded commands.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "add": (_EDIT, "Alta individual: guarda (o reemplaza) los correos de un cliente."),
    "hold": (_EDIT, "Retiene a un cliente: no se le envía su estado de cuenta hasta liberarlo."),
    "release": (_EDIT, "Libera a un cliente retenido."),
    "holds": (
        "rotomail.cli.catalog.holds",
        "Clientes retenidos: motivo, quién los retuvo y cuándo.",
    ),
    "changes": (
        _REVIEW,
        "Quién cambió qué: cada alta, reemplazo, borrado, retención y liberación del cliente.",
    ),
    "missing": (
        _REVIEW,
        "Clientes con partidas abiertas sin correo en el catálogo, como filas para «catalog "
        "import» (Sociedad, Cliente, Nombre, Correo: el del maestro cuando lo tiene).",
    ),
    "search": (
        "rotomail.cli.catalog.search",
        "Búsqueda en el catálogo por sociedad, cliente, nombre o correo (sin distinguir "
        "acentos ni mayúsculas).",
    ),
    "delete": (_EDIT, "Borrado: quita un cliente del catálogo."),
    "import-tsv": (
        _PASTE,
        "Alta masiva: filas pegadas desde Excel (Sociedad, Cliente y/o Correo).",
    ),
    "import": (_PASTE, "Alta masiva: filas pegadas desde Excel (Sociedad, Cliente y/o Correo)."),
    "export": (
        "rotomail.cli.catalog.export",
        "Exporta el catálogo en un formato que «catalog import» vuelve a leer.",
    ),
}


class CatalogGroup(LazyGroup):
    """``rotomail catalog``: a subcommand's module is imported when that subcommand runs."""

    table = SUBCOMMANDS
    shorten_help = True  # as Click shortens a loaded subcommand's help to the width


app = command_group(HELP, cls=CatalogGroup)
