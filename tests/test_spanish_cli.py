"""The clerk reads Spanish everywhere: the help of every command, Click's usage errors,
-h as --help and --version."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Cli, command_tree

# English that Click/Typer would write in the help frame or in a usage error.
ENGLISH = re.compile(
    r"Usage|Options|Commands|Arguments|Show this message|default:|\[required\]|Missing|"
    r"No such|Try '|Invalid value|Got unexpected|requires an argument|is not one of|"
    r"\b(TEXT|INTEGER|PATH)\b|<(str|int|path|float)>|Did you mean|Aborted"
)


def command_paths() -> list[list[str]]:
    return [list(path) for path in command_tree()]


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "rotomail")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_is_spanish(cli: Cli, path: list[str], flag: str) -> None:
    result = cli(*path, flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Uso: ")
    assert "Opciones:" in result.stdout
    assert not ENGLISH.search(result.stdout), ENGLISH.search(result.stdout)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["sned"], "No existe el comando «sned». ¿Quiso decir «send»?"),
        (["catalog", "serch"], "No existe el comando «serch». ¿Quiso decir «search»?"),
        (
            ["catalog", "imprt"],
            "No existe el comando «imprt». ¿Quiso decir «import» o «import-tsv»?",
        ),
        (["catalog", "add", "SM02"], "Falta el argumento «cliente»."),
        (["catalog", "add"], "Falta el argumento «sociedad»."),
        (
            ["send", "--sociedd"],
            "No existe la opción «--sociedd». ¿Quiso decir --force o --sociedad?",
        ),
        (
            ["history", "--format", "xx"],
            "Valor inválido para «--format»: «xx» no es válido; use uno de: table, tsv, csv, json.",
        ),
        (
            ["send", "--retry-failed", "abc"],
            "Valor inválido para «--retry-failed»: debe ser un número entero.",
        ),
        (["send", "--date"], "La opción «--date» necesita un valor."),
        (["config", "show", "extra"], "Sobran argumentos: extra."),
    ],
)
def test_usage_errors_are_spanish(cli: Cli, args: list[str], error: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: {error}\n")
    assert not ENGLISH.search(result.stderr), result.stderr


def test_usage_error_shows_the_spanish_usage_line(cli: Cli) -> None:
    result = cli("catalog", "add", "SM02")
    assert result.stderr.startswith(
        "Uso: root catalog add [OPCIONES] {sociedad} {cliente} {correos}\n"
        "Ayuda: root catalog add --help\n"
    )


def test_no_arguments_shows_the_spanish_help(cli: Cli) -> None:
    result = cli("catalog")
    assert "Uso: root catalog [OPCIONES] COMANDO [ARGUMENTOS]..." in result.output
    assert not ENGLISH.search(result.output)


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"rotomail \d+\.\d+\.\d+\n", result.stdout)
