"""The README documents every command and every option that ``--help`` shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from rotomail.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(path, command) for every leaf command; Typer 0.29 vendors Click, hence duck typing."""
    context = typer.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


COMMANDS = dict(_commands(typer.main.get_command(app)))
OPTIONS = sorted(
    (name, option)
    for name, command in COMMANDS.items()
    for param in command.params
    if param.param_type_name == "option"
    for option in param.opts
    if option.startswith("--") and option != "--help"
)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"rotomail {name}" in README


@pytest.mark.parametrize(("name", "option"), OPTIONS)
def test_every_option_is_in_the_readme(name: str, option: str) -> None:
    assert option in README, f"rotomail {name} {option} is not documented in README.md"
