"""Every command that writes a file answers a bad output path with one Spanish line and
exit 2: a folder that does not exist, a folder instead of a file, a place it may not write."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli

# (command, arguments before -o PATH); each writes a file of its own kind.
WRITERS = [
    pytest.param(["statement", "SM02", "1006210", "--date", "2026-11-30"], id="statement"),
    pytest.param(["catalog", "export"], id="catalog-export-tsv"),
    pytest.param(["catalog", "export", "--format", "csv"], id="catalog-export-csv"),
    pytest.param(["catalog", "export", "--format", "xlsx"], id="catalog-export-xlsx"),
]


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A folder this process may not write into (root may write anywhere but /sys)."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    folder = tmp_path / "solo-lectura"
    folder.mkdir()
    folder.chmod(0o500)
    yield folder
    folder.chmod(0o700)


@pytest.mark.parametrize("command", WRITERS)
@pytest.mark.parametrize("problem", ["missing-folder", "directory", "unwritable"])
def test_bad_output_path_is_one_spanish_line(
    loaded: Cli, tmp_path: Path, unwritable: Path, command: list[str], problem: str
) -> None:
    if problem == "missing-folder":
        path = tmp_path / "no-existe" / "salida.pdf"
        expected = f"Error: No se puede escribir {path}: la carpeta {path.parent} no existe.\n"
    elif problem == "directory":
        path = tmp_path
        expected = f"Error: No se puede escribir {path}: es una carpeta; indique un archivo.\n"
    else:
        path = unwritable / "salida.pdf"
        expected = f"Error: No se puede escribir {path}: sin permiso.\n"
    result = loaded(*command, "-o", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr == expected
    assert result.stdout == ""
