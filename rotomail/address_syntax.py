"""rotomail's one address validator: email-validator's public ``validate_email`` (syntax
only, no DNS).

It sits at the package's root so every layer judges an address alike: the settings
(``config.py``: the operator's, the companies' and the collectors' addresses, checked when
settings load), the catalogue (``inputs.addresses``) and the e-mails (``delivery.messages``).
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from email_validator import ValidatedEmail

# Control characters (CR, LF, tab, C1) and the Unicode line separators: never in an address.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# ``Name <user@example.mx>``: a display name, then the address in brackets.
NAME_ADDR = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]*)>$")

_SPLIT_MAX_LENGTH = 200  # ASCII and below the 254 limit: no length rule can differ
_PROBE_DOMAIN = "a.mx"  # short: the probe domain is validated again on every call
_PROBE_LOCAL = "postmaster"

# Less work not yet done than this (domains, plus half as many local parts: a local part
# costs under half a domain) is done one by one as the addresses are met: a pool's start-up
# (two processes forked, about 20-40 ms) would cost more than it saves. Measured on the
# 2-core development machine (README, Speed).
POOL_THRESHOLD = 4_000
_POOL_CHUNK = 500  # parts per task: about 60 ms of work, so Ctrl-C waits no longer
_MAX_WORKERS = 4

# Part -> email-validator's normalised form of it, None when refused: every local part and
# domain judged so far in this process (a paste's are judged ahead, on every core, by
# ``judge_parts``).
_locals: dict[str, str | None] = {}
_domains: dict[str, str | None] = {}


def validated(address: str) -> ValidatedEmail | None:
    """email-validator's verdict on one bare address (``user@example.mx``), ``None`` when
    it is not valid: rotomail's one address validator, syntax only (no DNS). Special-use
    domains (``.test``, ``.local``, ``localhost``, ...) are refused, a local part with
    accents and an internationalised domain are accepted (SMTPUTF8 and IDNA)."""
    # imported on first use (25 ms): a command whose settings' addresses were already
    # judged (config.py keeps that verdict) and that validates nothing never pays for it
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None


@lru_cache(maxsize=131_072)
def normalized_or_none(address: str) -> str | None:
    """The normalised form of one address, ``None`` when it is not valid.

    A validation costs ~25 µs, most of it in the domain, and a catalogue repeats domains
    and mailbox names far more than addresses: an everyday ASCII address is judged as its
    local part (on a short probe domain) and its domain (behind a probe mailbox), each
    validated by email-validator and cached. Whenever a part fails, or the address is not
    ASCII or is long enough for the whole-address length rules to matter, the whole address
    is validated, so the verdict is always email-validator's on the address itself
    (tests/test_emails.py checks both paths agree).
    """
    parts = _split(address)
    if parts is not None:
        local_norm = _verdict(_locals, _judge_local, parts[0])
        domain_norm = _verdict(_domains, _judge_domain, parts[1])
        if local_norm is not None and domain_norm is not None:
            return f"{local_norm}@{domain_norm}"
    email = validated(address)
    return email.normalized if email is not None else None


def _split(address: str) -> tuple[str, str] | None:
    """(local part, domain) of an address judged in parts; None when it is judged whole."""
    local, at, domain = address.rpartition("@")
    if at and address.isascii() and len(address) <= _SPLIT_MAX_LENGTH:
        return local, domain
    return None


def _verdict(
    cache: dict[str, str | None], judge: Callable[[str], str | None], part: str
) -> str | None:
    """``judge(part)``, judged once per process (``cache`` may hold it from the pool)."""
    if part not in cache:
        cache[part] = judge(part)
    return cache[part]


def _judge_local(local: str) -> str | None:
    email = validated(f"{local}@{_PROBE_DOMAIN}")
    return email.local_part if email is not None else None


def _judge_domain(domain: str) -> str | None:
    email = validated(f"{_PROBE_LOCAL}@{domain}")
    return email.domain if email is not None else None


def _judge(task: tuple[bool, list[str]]) -> list[str | None]:
    """One task of the pool: the verdicts on some domains (or local parts), in their order."""
    domains, parts = task
    judge = _judge_domain if domains else _judge_local
    return [judge(part) for part in parts]


def _init_worker() -> None:
    """Ctrl-C reaches the whole process group: the parent alone stops the command (one
    line), a worker finishes its task and the pool is shut down. A worker lives only as
    long as the parent: killed (``kill -9``), the parent never shuts the pool down, and its
    workers would wait for tasks forever."""
    import multiprocessing
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: BaseProcess) -> None:
    parent.join()  # returns once the parent process is gone
    os._exit(0)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def judge_parts(addresses: Iterable[str]) -> None:
    """Judge ahead, on every core, the local parts and domains of many addresses about to
    be validated (``normalized_or_none``), so that validating them finds every verdict known.

    The domain check is most of a validation (about 120 µs a domain on the development
    machine, UTS-46 character by character; a local part about 45 µs), and a pasted
    catalogue can hold tens of thousands of different domains and mailbox names. Each
    verdict is still email-validator's, on the same probe address as ``normalized_or_none``
    asks about, only computed in worker processes. Less than ``POOL_THRESHOLD`` of new work,
    or one core: nothing is done here.
    """
    locals_: set[str] = set()
    domains: set[str] = set()
    for address in addresses:
        if (parts := _split(address)) is not None:
            if parts[0] not in _locals:
                locals_.add(parts[0])
            if parts[1] not in _domains:
                domains.add(parts[1])
    workers = min(_cores(), _MAX_WORKERS)
    if len(domains) + len(locals_) // 2 < POOL_THRESHOLD or workers < 2:
        return
    from concurrent.futures import ProcessPoolExecutor  # 10 ms: only a big paste pays it

    # imported here, before the workers are forked, rather than once in each of them
    import email_validator  # noqa: F401

    tasks = [
        (is_domain, new[i : i + _POOL_CHUNK])
        for is_domain, new in ((True, sorted(domains)), (False, sorted(locals_)))
        for i in range(0, len(new), _POOL_CHUNK)
    ]
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker)
    try:
        # The workers are forked while SIGINT is blocked (they inherit the mask) and unblock
        # it once they ignore it: a Ctrl-C as they start is the parent's alone, delivered to
        # it right after.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            verdicts = pool.map(_judge, tasks)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for (is_domain, chunk), judged in zip(tasks, verdicts, strict=True):
            (_domains if is_domain else _locals).update(zip(chunk, judged, strict=True))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def is_valid_address(address: str) -> bool:
    """True when email-validator accepts the bare address (cached)."""
    return normalized_or_none(address) is not None


def split_name_addr(value: str) -> tuple[str, str]:
    """``Name <user@example.mx>`` -> (``Name``, ``user@example.mx``); a bare address has no
    name. Nothing is validated here."""
    text = value.strip()
    match = NAME_ADDR.match(text)
    if match:
        return match.group("name").strip().strip('"'), match.group("addr").strip()
    return "", text


def is_valid_mailbox(value: str) -> bool:
    """True for ``user@example.mx`` or ``Name <user@example.mx>`` as an e-mail header takes
    it: no control character, and the address accepted by ``is_valid_address``."""
    return not CONTROL.search(value) and is_valid_address(split_name_addr(value)[1])
