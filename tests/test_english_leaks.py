"""No English message of Click's (vendored by Typer) or pydantic's reaches a user.

rotomail replaces Click's words in one module (rotomail/cli/spanish.py, on a private module
of Typer's) and checks settings itself; a new Typer, or a new way of checking settings, can
let the library's own English through. Each bad usage below runs the real CLI as a user
would type it (in-process through the app, and a few in a process of their own through the
installed program) and must end with exit 2 and none of those libraries' English phrases in
what it prints. (rotomail's own lines start with "Error:" as Click's do, so that word alone
proves nothing; the English after it is what is looked for.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli

ENGLISH = [
    # Click
    "Usage:",
    "Missing option",
    "Missing argument",
    "Missing parameter",
    "Missing command",
    "No such option",
    "No such command",
    "Invalid value",
    "is not a valid",
    "is not one of",
    "Got unexpected extra argument",
    "Try '",
    "for help",
    "requires an argument",
    "does not take a value",
    "Did you mean",
    "Aborted!",
    "Options:",
    # pydantic
    "validation error",
    "Input should be",
    "Field required",
    "Extra inputs are not permitted",
    "Value error,",
    "errors.pydantic.dev",
    "[type=",
    # Python
    "Traceback",
]

# (id, arguments, config.toml or None, environment)
BAD_USAGES: list[tuple[str, list[str], str | None, dict[str, str]]] = [
    ("missing-required-option", ["catalog", "missing"], None, {}),
    ("missing-required-option-after-arguments", ["catalog", "hold", "SM02", "1"], None, {}),
    ("unknown-option", ["send", "--sociedad", "SM02", "--bogus"], None, {}),
    ("unknown-root-option", ["--bogus"], None, {}),
    ("option-without-its-value", ["--home"], None, {}),
    ("flag-given-a-value", ["send", "--sociedad", "SM02", "--all=sí"], None, {}),
    ("bad-choice", ["catalog", "search", "--format", "xml"], None, {}),
    ("bad-integer-argument", ["history", "abc"], None, {}),
    ("bad-integer-option", ["send", "--sociedad", "SM02", "--retry-failed", "x"], None, {}),
    ("bad-date", ["send", "--sociedad", "SM02", "--date", "30/11/2026"], None, {}),
    ("bad-date-import", ["ledger", "import", "x.txt", "--date", "2026-13-01"], None, {}),
    ("missing-argument", ["statement"], None, {}),
    ("missing-variadic-argument", ["ledger", "import"], None, {}),
    ("extra-argument", ["history", "1", "2"], None, {}),
    ("unknown-command", ["frobnicate"], None, {}),
    ("unknown-command-close-to-one", ["catalg"], None, {}),
    ("unknown-catalog-subcommand", ["catalog", "frob"], None, {}),
    ("unknown-catalog-subcommand-close-to-one", ["catalog", "serch"], None, {}),
    ("unknown-customers-subcommand", ["customers", "frob"], None, {}),
    ("config-bad-integer", ["config", "show"], '[smtp]\nport = "abc"\n', {}),
    ("config-float-for-integer", ["catalog", "search"], "[smtp]\nport = 1.5\n", {}),
    ("config-out-of-range", ["config", "show"], "[render]\nnice = 40\n", {}),
    ("config-bad-choice", ["config", "show"], '[smtp]\nsecurity = "tls"\n', {}),
    ("config-bad-boolean", ["config", "show"], '[companies.SM02]\nverp = "quizá"\n', {}),
    ("config-bad-language", ["config", "show"], '[companies.SM02]\nlanguage = "fr"\n', {}),
    ("config-unknown-key", ["config", "show"], '[smtp]\nhots = "x"\n', {}),
    ("config-unknown-top-key", ["catalog", "search"], "busy_timout = 3\n", {}),
    ("config-unknown-company-key", ["config", "show"], '[companies.SM02]\nnmae = "x"\n', {}),
    ("config-unknown-table", ["config", "show"], '[smpt]\nhost = "x"\n', {}),
    ("config-value-for-a-table", ["config", "show"], "smtp = 3\n", {}),
    ("config-company-not-a-table", ["config", "show"], "[companies]\nSM02 = 5\n", {}),
    ("config-unknown-import-field", ["config", "show"], '[import.ledger]\nbogus = "x"\n', {}),
    ("config-not-toml", ["config", "show"], "[smtp\n", {}),
    ("env-bad-integer", ["config", "show"], None, {"ROTOMAIL_SMTP_PORT": "abc"}),
    ("env-bad-number", ["catalog", "search"], None, {"ROTOMAIL_BUSY_TIMEOUT": "-1"}),
    ("env-bad-choice", ["config", "show"], None, {"ROTOMAIL_SMTP_SECURITY": "tls"}),
    ("env-bad-seconds", ["config", "show"], None, {"ROTOMAIL_SMTP_TIMEOUT": "x"}),
]


def prepare(home: Path, config: str | None) -> None:
    if config is not None:
        (home / "config.toml").write_text(config, encoding="utf-8")


def assert_spanish(shown: str, stderr: str, exit_code: int) -> None:
    leaks = [phrase for phrase in ENGLISH if phrase.lower() in shown.lower()]
    assert not leaks, f"English {leaks} in:\n{shown}"
    assert exit_code == 2, shown
    assert "Error: " in stderr, shown


@pytest.mark.parametrize(
    ("args", "config", "env"),
    [pytest.param(args, config, env, id=name) for name, args, config, env in BAD_USAGES],
)
def test_no_english_reaches_the_user(
    cli: Cli,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    config: str | None,
    env: dict[str, str],
) -> None:
    prepare(home, config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli(*args)
    assert_spanish(result.output, result.stderr, result.exit_code)


# The same through the installed program in a process of its own (``main``, sys.exit).
IN_A_PROCESS = ["unknown-option", "bad-choice", "config-unknown-key", "env-bad-integer"]


@pytest.mark.parametrize("name", IN_A_PROCESS)
def test_no_english_reaches_the_user_of_the_program(home: Path, name: str) -> None:
    [(args, config, extra_env)] = [(a, c, e) for n, a, c, e in BAD_USAGES if n == name]
    prepare(home, config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTOMAIL_")}
    env.update({"ROTOMAIL_HOME": str(home), "COLUMNS": "100", **extra_env})
    result = subprocess.run(
        [sys.executable, "-m", "rotomail", *args],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        stdin=subprocess.DEVNULL,
        timeout=60,
        cwd=home,
    )
    assert_spanish(result.stdout + result.stderr, result.stderr, result.returncode)
