"""The README documents every command and every option that ``--help`` shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import command_tree

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


COMMANDS = {
    " ".join(path): command
    for path, command in command_tree().items()
    if path and not hasattr(command, "list_commands")
}
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
