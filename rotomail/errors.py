"""Errors that reach the user as a Spanish message and an exit code, never a traceback."""

from __future__ import annotations


class RotomailError(Exception):
    """A failure the user can act on. ``exit_code`` 1 = bad data, 2 = usage/configuration."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataError(RotomailError):
    """The input data is wrong (a row, a field, a file's content)."""

    exit_code = 1


class UsageError(RotomailError):
    """The command was called wrongly or the configuration is wrong."""

    exit_code = 2
