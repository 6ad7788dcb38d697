"""``rotomail catalog`` is a lazy group like the root: its help lists every subcommand from
a table without importing their modules, and a subcommand imports only its own module, so
``catalog search`` loads neither the address validator, nor the paste parser, nor the
ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from rotomail.cli.catalog import SUBCOMMANDS
from tests.conftest import PG_URL, Cli, command_tree

# The catalog's subcommand modules, and what ``catalog search`` must never import.
MODULES = sorted({module for module, _ in SUBCOMMANDS.values()})
NOT_FOR_SEARCH = [
    "email_validator",
    "rotomail.inputs.addresses",
    "rotomail.inputs.parsers",
    "rotomail.inputs.tabular",
    "rotomail.store.catalog_edits",
    "rotomail.store.ledger",
    "rotomail.store.missing",
    "rotomail.statement.labels",
    *([] if PG_URL else ["sqlalchemy.dialects.postgresql"]),  # not on SQLite
    *(module for module in MODULES if not module.endswith(".search")),
]


def run_in_process(args: list[str], watched: list[str], env: dict[str, str]) -> dict:
    """Run ``rotomail ARGS`` in a fresh interpreter; its exit code, output and which of
    ``watched`` were imported."""
    code = (
        "import json, sys\n"
        "from rotomail.cli import app\n"
        "try:\n"
        f"    app({args!r}, prog_name='rotomail')\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        f"loaded = [m for m in {watched!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'loaded': loaded}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(done.stderr.strip().splitlines()[-1])
    result["stdout"] = done.stdout
    return result


def test_catalog_help_lists_every_subcommand_without_importing_them(home: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = run_in_process(["catalog", "--help"], [*MODULES, "sqlalchemy"], env)
    assert done["code"] == 0
    assert done["loaded"] == []
    listed = done["stdout"].split("Comandos:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(SUBCOMMANDS)


def test_catalog_search_imports_only_what_it_needs(loaded: Cli) -> None:
    args = ["catalog", "search", "--sociedad", "SM02", "--format", "tsv"]
    done = run_in_process(args, NOT_FOR_SEARCH, {**os.environ})
    assert done["code"] == 0
    assert done["stdout"].count("\n") == 4  # the heading and three entries
    assert done["loaded"] == []


@pytest.mark.parametrize("name", list(SUBCOMMANDS))
def test_the_table_tells_each_subcommands_module_and_help(name: str) -> None:
    module, text = SUBCOMMANDS[name]
    command = command_tree()[("catalog", name)]
    assert command.callback.__wrapped__.__module__ == module  # typer wraps the function
    first_paragraph = command.help.split("\n\n")[0]
    assert text.split() == first_paragraph.split()


def test_catalog_help_is_what_click_shows_for_loaded_subcommands(cli: Cli) -> None:
    """At any width the listing matches Click's, which shortens each command's help."""
    group = command_tree()[("catalog",)]
    for width in (50, 80, 200):
        context = typer.Context(group, terminal_width=width)
        lazy = group.get_help(context)
        loaded = {name: group.get_command(context, name) for name in SUBCOMMANDS}
        longest = max(map(len, SUBCOMMANDS))
        limit = context.make_formatter().width - 6 - longest
        for name, command in loaded.items():
            line = f"  {name.ljust(longest)}  {command.get_short_help_str(limit)}"
            assert line in lazy.splitlines(), (width, line)
