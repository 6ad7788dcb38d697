"""The README documents every command and every option that ``--help`` shows, and every
config.toml sample in it is valid TOML that rotomail loads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from rotomail.config import load_settings
from rotomail.errors import RotomailError
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


def toml_blocks(text: str) -> list[tuple[int, str]]:
    """(line of the opening fence, content) of every ```toml block."""
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1))
        for match in re.finditer(r"^```toml\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    ]


TOML_BLOCKS = toml_blocks(README)


def test_the_readme_has_config_samples() -> None:
    assert len(TOML_BLOCKS) >= 3


@pytest.mark.parametrize(
    ("line", "block"), [pytest.param(line, block, id=f"line-{line}") for line, block in TOML_BLOCKS]
)
def test_every_toml_block_of_the_readme_loads_as_config(
    tmp_path: Path, line: int, block: str
) -> None:
    """Each sample is a config.toml a user may copy: it parses and rotomail loads it (the
    files it names, such as the logo, need not exist)."""
    try:
        tomllib.loads(block)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"README.md line {line}: the ```toml block is not valid TOML: {exc}")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(block, encoding="utf-8")
    try:
        load_settings(env={"ROTOMAIL_HOME": str(home)})
    except RotomailError as exc:
        pytest.fail(f"README.md line {line}: rotomail refuses the ```toml block: {exc.message}")
