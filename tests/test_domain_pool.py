"""A big paste's domains judged ahead in a process pool (``address_syntax.judge_parts``):
the same verdicts as one by one, the same messages per row, and Ctrl-C while the pool works
leaves the catalog untouched with one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email
from sample_data import COMPANY_CONFIG
from sink_server import group_members, kill_group, start

from rotomail import address_syntax
from rotomail.address_syntax import POOL_THRESHOLD, judge_parts, normalized_or_none
from rotomail.errors import DataError
from rotomail.inputs.addresses import normalize_address
from tests.conftest import Cli

pytestmark = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="a pool needs two cores; one core judges serially"
)

# (domain, accepted): ASCII domains, as the pool judges them (an address that is not ASCII is
# judged whole, in the parent, and never reaches the pool).
DOMAINS = [
    ("example.mx", True),
    ("EXAMPLE.com", True),
    ("Ferre-Lopez.Example.MX", True),
    ("a.b.c.d.example.com", True),
    ("1a.example.mx", True),
    ("x" * 63 + ".example.mx", True),
    ("xn--compaa-7va5a.example.mx", True),  # compañía, as punycode
    ("xn--r8jz45g.example.jp", True),  # 例え
    ("example", False),
    ("localhost", False),
    ("example.test", False),
    ("servidor.local", False),
    ("x.invalid", False),
    ("x.onion", False),
    ("1.in-addr.arpa", False),
    ("example.123", False),
    ("10.0.0.1", False),
    ("[192.0.2.1]", False),
    ("-example.mx", False),
    ("example-.mx", False),
    ("ab--cd.mx", False),
    ("xn--zz.mx", False),
    ("exa_mple.mx", False),
    ("a..b.mx", False),
    (".example.mx", False),
    ("example.mx.", False),
    ("", False),
    ("b" * 64 + ".mx", False),
    (".".join(["b" * 60] * 3) + ".mx", True),
]
# Not ASCII, or long enough for the whole address's length rules: judged whole, never by
# the pool; the verdict is still email-validator's.
WHOLE = [
    ("compañía.example.mx", True),
    ("例え.jp", True),
    ("exa\u200bmple.mx", False),
    (".".join(["b" * 60] * 4) + ".mx", True),
    (".".join(["b" * 60] * 5) + ".mx", False),
]
FILLER = [f"relleno{i}.example.mx" for i in range(POOL_THRESHOLD)]


def reference(address: str) -> str | None:
    """email-validator on the whole address, as rotomail's validator must answer."""
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


@pytest.fixture(scope="module")
def pooled() -> Iterator[dict[str, str | None]]:
    """The verdicts a pool gave, starting from no domain judged (the module's cache is put
    back afterwards)."""
    saved = address_syntax._domains, address_syntax._locals
    address_syntax._domains, address_syntax._locals = {}, {}
    normalized_or_none.cache_clear()
    try:
        judge_parts(f"pagos@{domain}" for domain, _ in DOMAINS + WHOLE)
        assert address_syntax._domains == {}, "fewer than POOL_THRESHOLD: judged one by one"
        judge_parts(f"pagos@{domain}" for domain in [*(d for d, _ in DOMAINS), *FILLER])
        yield dict(address_syntax._domains)
        # what the paste then validates meets the pool's verdicts
        for domain, _ in DOMAINS + WHOLE:
            address = f"pagos@{domain}"
            assert normalized_or_none(address) == reference(address), address
    finally:
        address_syntax._domains, address_syntax._locals = saved
        normalized_or_none.cache_clear()


@pytest.mark.parametrize(("domain", "accepted"), DOMAINS)
def test_the_pool_judges_a_domain_as_one_by_one(
    pooled: dict[str, str | None], domain: str, accepted: bool
) -> None:
    serial = address_syntax._judge_domain(domain)
    assert pooled[domain] == serial
    assert (serial is not None) == accepted
    expected = reference(f"pagos@{domain}")
    assert (f"pagos@{serial}" if serial is not None else None) == expected


@pytest.mark.parametrize(("domain", "accepted"), WHOLE)
def test_an_address_not_judged_in_parts_is_judged_whole(
    pooled: dict[str, str | None], domain: str, accepted: bool
) -> None:
    assert domain not in pooled
    address = f"pagos@{domain}"
    if accepted:
        assert normalize_address(address) == reference(address)
    else:
        with pytest.raises(DataError) as info:
            normalize_address(address)
        assert info.value.message == f"Correo inválido: «{address}»"


def test_the_pool_judges_every_new_domain_once(pooled: dict[str, str | None]) -> None:
    assert set(pooled) == {domain for domain, _ in DOMAINS} | set(FILLER)
    assert all(pooled[domain] == domain for domain in FILLER)


@pytest.mark.parametrize(("new", "pooled"), [(POOL_THRESHOLD - 1, False), (POOL_THRESHOLD, True)])
def test_a_small_paste_is_judged_one_by_one(new: int, pooled: bool) -> None:
    saved = address_syntax._domains, address_syntax._locals
    address_syntax._domains = {"ya.example.mx": "ya.example.mx"}
    address_syntax._locals = {"a": "a", "b": "b"}
    try:
        # a domain or local part already judged, and the same domain twice, do not count
        domains = ["ya.example.mx", *(f"umbral{i}.example.mx" for i in range(new))]
        judge_parts(f"{box}@{domain}" for domain in domains for box in ("a", "b"))
        assert len(address_syntax._domains) == (1 + new if pooled else 1)
    finally:
        address_syntax._domains, address_syntax._locals = saved


# local parts count half a domain each: 2 * (threshold - 1) new ones fall short, 2 * threshold
# do not, and when the pool runs it judges them as one by one would
@pytest.mark.parametrize(
    ("new", "pooled"), [(2 * POOL_THRESHOLD - 2, False), (2 * POOL_THRESHOLD, True)]
)
def test_many_new_mailbox_names_are_judged_in_the_pool(new: int, pooled: bool) -> None:
    saved = address_syntax._domains, address_syntax._locals
    address_syntax._domains = {"cliente.example.mx": "cliente.example.mx"}
    address_syntax._locals = {}
    boxes = [f"Cobranza.{i}" for i in range(new - 3)] + ["a..b", ".pagos", "dos puntos:"]
    try:
        judge_parts(f"{box}@cliente.example.mx" for box in boxes)
        if not pooled:
            assert address_syntax._locals == {}
            return
        assert set(address_syntax._locals) == set(boxes)
        for box in ["Cobranza.0", f"Cobranza.{new - 4}", "a..b", ".pagos", "dos puntos:"]:
            assert address_syntax._locals[box] == address_syntax._judge_local(box), box
        assert address_syntax._locals["Cobranza.0"] == "Cobranza.0"
        assert address_syntax._locals["a..b"] is None
    finally:
        address_syntax._domains, address_syntax._locals = saved


# --- a big paste through the command -------------------------------------------------------

BAD = {7: "pagos@ejemplo.test", 900: "pagos@ab--cd.mx", 2500: "pagos@sin_guion.mx"}


def big_paste(count: int) -> tuple[str, str]:
    """A customer master of ``count`` SM02 customers and a paste of them, each with a
    domain of its own (as in the benchmark)."""
    master = "Sociedad\tCliente\tNombre\tRFC\tCorreo\tIdioma\n" + "".join(
        f"SM02\t{3_000_000 + i}\tCliente Masivo {i} S.A.\tCMA010101AB1\t"
        f"maestro@masivo{i}.example.mx\tS\n"
        for i in range(count)
    )
    paste = "Sociedad\tCliente\tCorreo\n" + "".join(
        f"SM02\t{3_000_000 + i}\t{BAD.get(i, f'Pagos@Masivo{i}.Example.MX;cxp@masivo{i}.example.mx')}\n"
        for i in range(count)
    )
    return master, paste


def load(cli: Cli, home: Path, master: str) -> None:
    (home / "config.toml").write_text(COMPANY_CONFIG, encoding="utf-8")
    result = cli("customers", "import", "-", input=master.encode())
    assert result.exit_code == 0, result.output


def test_a_big_paste_gives_every_row_its_message(cli: Cli, home: Path) -> None:
    count = POOL_THRESHOLD  # as many domains: the pool judges them
    master, paste = big_paste(count)
    load(cli, home, master)
    result = cli("catalog", "import", "--format", "json", input=paste.encode())
    assert result.exit_code == 2, result.output[-2000:]
    rows = json.loads(result.stdout)
    assert len(rows) == count
    for i, row in enumerate(rows):
        if i in BAD:
            assert row["mensaje"] == f"Correo inválido: «{BAD[i]}»"
        else:
            assert row["mensaje"] == "Listo para grabar"
            assert row["correo"] == f"Pagos@masivo{i}.example.mx;cxp@masivo{i}.example.mx"


def catalog_rows(cli: Cli) -> list[dict[str, str]]:
    result = cli("catalog", "search", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def importing_with_the_pool(cli: Cli, home: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    """A real ``catalog import --yes`` of an 8,000-row paste, once its pool is judging."""
    master, paste = big_paste(8_000)
    load(cli, home, master)
    path = tmp_path / "pegado.tsv"
    path.write_text(paste, encoding="utf-8")
    args = [sys.executable, "-m", "rotomail", "catalog", "import", str(path), "--yes"]
    process = start(args, dict(os.environ), tmp_path)
    deadline = time.monotonic() + 60
    while len(group_members(process.pid)) < 3:  # the command and its two workers
        if process.poll() is not None or time.monotonic() > deadline:
            kill_group(process)
            pytest.fail(f"the pool never started: {process.communicate()}")
        time.sleep(0.005)
    return process


def left_behind(pgid: int) -> list[int]:
    deadline = time.monotonic() + 5
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.slow
def test_ctrl_c_while_the_pool_judges_saves_nothing(cli: Cli, home: Path, tmp_path: Path) -> None:
    process = importing_with_the_pool(cli, home, tmp_path)
    try:
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        out, err = process.communicate(timeout=30)
        assert left_behind(process.pid) == []
    finally:
        kill_group(process)
    assert process.returncode == 130, out + err
    assert err.decode() == "Cancelado: no se grabó nada.\n"
    assert out == b""
    assert catalog_rows(cli) == []


@pytest.mark.slow
def test_a_killed_import_leaves_no_worker_behind(cli: Cli, home: Path, tmp_path: Path) -> None:
    process = importing_with_the_pool(cli, home, tmp_path)
    try:
        os.kill(process.pid, signal.SIGKILL)  # the command alone: its workers see it go
        process.communicate(timeout=30)
        assert left_behind(process.pid) == []
    finally:
        kill_group(process)
    assert process.returncode == -signal.SIGKILL
    assert catalog_rows(cli) == []
