"""The installed ``rotomail send`` checklist in a real pseudo-terminal (pexpect), the screen
read back with pyte exactly as a terminal emulator would draw it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
import pytest
from conftest import Cli

ROTOMAIL = str(Path(sys.executable).with_name("rotomail"))
DATE = "2026-11-30"
ESC = "\x1b"
ENTER = "\r"
CTRL_C = "\x03"
CTRL_U = "\x15"
BACKSPACE = "\x7f"


class Terminal:
    """A command in a pseudo-terminal of ``cols`` x ``rows``, its screen kept by pyte."""

    def __init__(self, command: str, args: list[str], cols: int = 80, rows: int = 24) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(command, args, dimensions=(rows, cols), env=_env(), timeout=20)
        self.output = b""

    def _pump(self) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=0.1)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            return
        self.output += data
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 20) -> str:
        """Pump output until the screen shows ``what``; the screen text."""
        check = what if callable(what) else (lambda text: what in text)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._pump()
            if check(self.text()):
                return self.text()
            if not self.child.isalive() and not self.child.ptyproc.fd:
                break
        raise AssertionError(f"not on screen: {what!r}\n{self.text()}")

    def send(self, keys: str, pause: float = 0.15) -> None:
        self.child.send(keys)
        time.sleep(pause)
        self._pump()

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for the process to end; its exit status and every byte it wrote, as text."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self._pump()
        while True:  # drain what is left
            try:
                data = self.child.read_nonblocking(65536, timeout=0.2)
            except (pexpect.EOF, pexpect.TIMEOUT):
                break
            self.output += data
            self.stream.feed(data)
        self.child.close()
        assert self.child.exitstatus is not None, self.text()
        return self.child.exitstatus, self.output.decode("utf-8", "replace")


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["TERM"] = "xterm-256color"
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


@pytest.fixture
def checklist(loaded: Cli) -> Callable[..., Terminal]:
    def start(*extra: str, shell_after: bool = False) -> Terminal:
        args = ["send", "--sociedad", "SM02", "--date", DATE, *extra]
        if shell_after:  # what a shell would read after the command: must be nothing
            script = f'"{ROTOMAIL}" "$@"; echo "SALIDA=$?"; read -t 1 LEFT; echo "RESTO=[$LEFT]"'
            term = Terminal("/bin/sh", ["-c", script, "sh", *args])
        else:
            term = Terminal(ROTOMAIL, args)
        term.wait_for(lambda text: "seleccionados" in text and "Cancelar" in text)
        return term

    return start


def test_filter_select_one_confirm_and_send_to_the_outbox(
    checklist: Callable[..., Terminal], home: Path
) -> None:
    term = checklist()
    screen = term.text()
    assert "[x]  1004273  Ferretería López" in screen
    assert "3 de 3 seleccionados" in screen
    term.send("n")
    term.send("/")
    term.send("ferre")
    term.wait_for(lambda text: "Agroequipos" not in text and "mostrando 1 de 3" in text)
    term.send(ENTER)  # from the filter back to the list
    term.send(" ")
    term.wait_for("1 de 3 seleccionados")
    term.send(ENTER)
    screen = term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e Enviar" in text)
    assert "Modo: envío" in screen
    flat = "".join(screen.replace("█", "").split())  # the path may wrap inside the box
    assert f"Transporte:buzóndesalida{home / 'outbox'}" in flat
    assert "Se enviará el estado de cuenta a 1 cliente." in screen
    assert "Saldo: MXN 2,500.50" in screen
    time.sleep(0.4)  # a person reads before confirming; keys typed ahead do not confirm
    term.send("e")
    status, output = term.finish()
    assert status == 0, output
    assert "Ferretería López" in output
    folder = home / "outbox" / "corrida-1"
    assert [p.name for p in folder.glob("100*.eml")] == ["1004273_20261130.eml"]


def test_filtered_enter_states_the_hidden_then_esc_esc_sends_nothing(
    checklist: Callable[..., Terminal], home: Path
) -> None:
    term = checklist("--dry-run")
    term.send("/ferre" + ENTER)
    term.send(ENTER)
    screen = term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e Enviar" in text)
    assert "Modo: simulación" in screen
    assert "Se enviará el estado de cuenta a 3 clientes (2 ocultos por el filtro)." in screen
    assert "Saldo: MXN 3,500.50 · USD 500.00" in screen
    term.send(ESC)
    term.wait_for(lambda text: "Confirmar envío" not in text and "[x]  1004273" in text)
    started = time.monotonic()
    term.send(ESC, pause=0)
    term.wait_for("Cancelado: no se envió nada.", timeout=10)
    left_after = time.monotonic() - started
    status, output = term.finish()
    assert left_after < 2  # within a second on an idle machine; the suite runs 2 at a time
    assert status == 1
    assert "Cancelado: no se envió nada." in output
    assert not (home / "outbox").exists()


@pytest.mark.parametrize("key", [ESC, CTRL_C])
def test_fast_filter_edits_then_leave_nothing_left_for_the_shell(
    checklist: Callable[..., Terminal], home: Path, key: str
) -> None:
    term = checklist(shell_after=True)
    # One write, as fast as a terminal can deliver: type, Backspace x4, type, Ctrl-U, type.
    term.send("/ferre" + BACKSPACE * 4 + "agro" + CTRL_U + "plom", pause=0.5)
    screen = term.wait_for(lambda text: "Plomería Central" in text and "Ferretería" not in text)
    assert "Traceback" not in screen
    # More edits and the key to leave, without waiting for the screen: none of them may be
    # left over for the shell.
    term.send(BACKSPACE * 4 + "zz" + CTRL_U + "ag", pause=0.02)
    if key == ESC:  # Esc in the filter clears it (the ticks kept); a second one leaves
        term.send(key, pause=0.5)
    term.send(key, pause=0)
    status, output = term.finish()
    assert status == 0
    assert "Cancelado: no se envió nada." in output
    assert "SALIDA=1" in output
    assert "RESTO=[]" in output
    assert "Traceback" not in output
    assert not (home / "outbox").exists()


def test_already_sent_start_unticked_and_the_rest_is_sent(
    checklist: Callable[..., Terminal], loaded: Cli, home: Path
) -> None:
    first = loaded("send", "--sociedad", "SM02", "--date", DATE, "--cliente", "1004273")
    assert first.exit_code == 0, first.output
    term = checklist()
    screen = term.text()
    assert "[ ]  1004273" in screen and "ya enviado" in screen
    assert "2 de 3 seleccionados" in screen
    assert "ya enviados para esta fecha: 1" in screen
    term.send(ENTER)
    screen = term.wait_for(lambda text: "Confirmar envío" in text and "Enter/e Enviar" in text)
    assert "Se enviará el estado de cuenta a 2 clientes." in screen
    time.sleep(0.4)
    term.send(ENTER)
    status, output = term.finish()
    assert status == 0, output
    sent = sorted(p.name for p in (home / "outbox" / "corrida-2").glob("100*.eml"))
    assert sent == ["1001400_20261130.eml", "1006210_20261130.eml"]
