"""The package's layers: data flows inputs -> store -> statement -> delivery, the CLI on top.

A module may import its own layer and the layers below it, never one above. The import
graph between rotomail's modules has no circles. Every SQL statement is built in ``store/``:
outside it, SQLAlchemy is only a type (an engine, a connection, a row) or an exception.
All are read from the source (every import statement, including those inside functions and
under TYPE_CHECKING)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rotomail"

# Lowest first. The root modules (config, errors, ids, company) are the foundation.
LAYERS = ("", "inputs", "statement", "store", "delivery", "cli")
ENTRY_POINTS = {"rotomail.__main__"}  # may import anything: it only starts the CLI


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    parts = module.split(".")
    sub = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else ""
    return LAYERS.index(sub) if sub in LAYERS else 0


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """rotomail modules that ``path`` imports, resolved to the module (not the attribute)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "rotomail":
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
                found.add(name)
    return found


SOURCES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {
    module: imported_modules(path, set(SOURCES)) - {module} for module, path in SOURCES.items()
}


def test_the_layer_table_knows_every_subpackage() -> None:
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert subpackages <= set(LAYERS) | {"migrations"}


@pytest.mark.parametrize("module", sorted(set(SOURCES) - ENTRY_POINTS))
def test_no_module_imports_an_upper_layer(module: str) -> None:
    upward = sorted(name for name in GRAPH[module] if layer(name) > layer(module))
    assert upward == [], f"{module} ({LAYERS[layer(module)] or 'root'}) imports {upward}"


def test_no_import_circles() -> None:
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in sorted(GRAPH.get(module, ())):
            if name in ENTRY_POINTS or name == "rotomail":
                continue
            if state.get(name) == 1:
                circles.append([*path[path.index(name) :], name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert circles == []


# What a module outside store/ may take from SQLAlchemy: no statement builder (select,
# insert, update, delete, text, func, tables, columns ...), so every query lives in store/.
SQLALCHEMY_OUTSIDE_STORE = {"sqlalchemy": {"Connection", "Engine", "Row"}, "sqlalchemy.exc": None}


def sqlalchemy_imports(path: Path) -> list[str]:
    """``module.name`` of everything ``path`` imports from SQLAlchemy (``module`` alone for a
    plain ``import``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def allowed_outside_store(name: str) -> bool:
    module, _, attribute = name.rpartition(".")
    if module not in SQLALCHEMY_OUTSIDE_STORE:
        return False
    allowed = SQLALCHEMY_OUTSIDE_STORE[module]
    return allowed is None or attribute in allowed


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if not m.startswith("rotomail.store")))
def test_sql_is_built_only_in_store(module: str) -> None:
    builders = [n for n in sqlalchemy_imports(SOURCES[module]) if not allowed_outside_store(n)]
    assert builders == [], f"{module} builds SQL outside rotomail/store/: {builders}"


def test_the_sql_check_sees_a_statement_builder(tmp_path: Path) -> None:
    source = tmp_path / "query.py"
    source.write_text(
        "import sqlalchemy\nfrom sqlalchemy import Engine, select\n"
        "from sqlalchemy.exc import SQLAlchemyError\nfrom sqlalchemy.sql import func\n",
        encoding="utf-8",
    )
    names = sqlalchemy_imports(source)
    assert [n for n in names if not allowed_outside_store(n)] == [
        "sqlalchemy",
        "sqlalchemy.select",
        "sqlalchemy.sql.func",
    ]


TERMINAL_TOOLKITS = {"typer", "click", "rich", "textual"}


@pytest.mark.parametrize(
    "module", sorted(m for m in set(SOURCES) - ENTRY_POINTS if layer(m) < LAYERS.index("cli"))
)
def test_the_library_runs_without_a_terminal_toolkit(module: str) -> None:
    """Below cli/ (e.g. ``delivery.plan``, what a run will do) nothing needs Typer, Click,
    Rich or Textual: a web page or a scheduler calls the library as the CLI does."""
    toolkits = sorted(
        name
        for node in ast.walk(ast.parse(SOURCES[module].read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if name.split(".")[0] in TERMINAL_TOOLKITS
    )
    assert toolkits == [], f"{module} imports {toolkits}"


# Library internals rotomail must not lean on (issue 18): smtplib's command encoding and
# imaplib's capabilities are the library's to set; fpdf2's output stream, page fonts and
# image cache are private. Private modules are imported only where the exception is declared.
SET_ONLY_BY_THE_LIBRARY = {"command_encoding", "capabilities"}
PRIVATE_OF_A_LIBRARY = {"_out", "_set_font_for_page", "image_cache"}
PRIVATE_MODULES_ALLOWED = {"typer._click": {"rotomail.cli.spanish"}}  # pyproject pins Typer


def internals_used(source: str, module: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"sets .{t.attr}"
                for t in targets
                if isinstance(t, ast.Attribute)
                and t.attr in SET_ONLY_BY_THE_LIBRARY
                and not (isinstance(t.value, ast.Name) and t.value.id == "self")  # our own
            ]
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_OF_A_LIBRARY:
            found.append(f"uses .{node.attr}")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [f"{node.module}.{alias.name}" for alias in node.names]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
            )
            for name in names:
                parts = name.split(".")
                private = [i for i, part in enumerate(parts) if part.startswith("_")]
                if not private or parts[0] in ("rotomail", "__future__"):
                    continue
                name = ".".join(parts[: private[0] + 1])
                if module not in PRIVATE_MODULES_ALLOWED.get(name, set()):
                    found.append(f"imports {name}")
    return sorted(found)


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_library_internals(module: str) -> None:
    source = SOURCES[module].read_text(encoding="utf-8")
    assert internals_used(source, module) == []


def test_the_internals_check_sees_them() -> None:
    planted = (
        "import typer._click\n"
        "conn.command_encoding = 'utf-8'\n"
        "pdf._out(b'BT ET')\n"
        "box.client.capabilities = ()\n"
    )
    assert internals_used(planted, "rotomail.delivery.x") == [
        "imports typer._click",
        "sets .capabilities",
        "sets .command_encoding",
        "uses ._out",
    ]
    assert internals_used("from typer import _click", "rotomail.cli.spanish") == []
