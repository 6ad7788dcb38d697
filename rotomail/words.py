"""The closed lists of words a run is described with, and their Spanish.

Each is a ``StrEnum``: a member equals the string stored in the database and written in
``history --format json``, so comparisons with a column's value and the stored rows stay as
they were. Their Spanish words, as shown on screen, in the log and as ``estado`` in
``history --format json``, live in the one table ``SPANISH``.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """What a run does with its messages."""

    SEND = "send"
    TEST = "test"  # everything to the operator's address
    DRY_RUN = "dry-run"  # built, never sent
    RESEND = "resend"  # one customer's statement to addresses given once: no claim taken


# The modes whose messages reach the customer's side (with the archive copy, VERP and the
# kept PDF); only SEND takes the exactly-once claim of the date.
REAL_MODES = frozenset({Mode.SEND, Mode.RESEND})


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped from outside: a signal, a busy database, a crash
    ABORTED = "aborted"  # stopped by itself: configuration, too many failed connections


class Status(StrEnum):
    """A customer's delivery in a run, and its exactly-once claim."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    SAVED = "saved"  # written to the outbox: nothing left the machine
    BUILT = "built"  # dry-run
    PARTIAL = "partial"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"
    BOUNCED = "bounced"


class AddressStatus(StrEnum):
    """One address of a delivery: the server's answer at send time, bounce reports later."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    DEFERRED = "deferred"
    BOUNCED = "bounced"  # the same word as Status.BOUNCED
    DELAYED = "delayed"


class Channel(StrEnum):
    """The built-in channels' names, as registered in ``delivery/channels.py`` and stored
    with every claim (exactly once holds per channel). A channel is named by its registry
    entry, so a new one needs no member here."""

    SMTP = "smtp"
    OUTBOX = "outbox"


# Every word above as shown in Spanish. The keys are plain strings (a member is one), so a
# status read from the database is looked up as it is.
SPANISH: dict[str, str] = {
    Mode.SEND: "envío",
    Mode.TEST: "ensayo",
    Mode.DRY_RUN: "simulación",
    Mode.RESEND: "reenvío",
    RunStatus.RUNNING: "en curso",
    RunStatus.FINISHED: "terminada",
    RunStatus.INTERRUPTED: "interrumpida",
    RunStatus.ABORTED: "abortada",
    Status.PENDING: "pendiente",
    Status.IN_FLIGHT: "en curso",
    Status.SENT: "enviado",
    Status.SAVED: "guardado",
    Status.BUILT: "generado",
    Status.PARTIAL: "parcial",
    Status.FAILED: "fallido",
    Status.SKIPPED: "omitido",
    Status.UNCERTAIN: "incierto",
    Status.BOUNCED: "rebotado",
    AddressStatus.ACCEPTED: "aceptado",
    AddressStatus.REFUSED: "rechazado",
    AddressStatus.DEFERRED: "diferido",
    AddressStatus.DELAYED: "con retraso",
}

# The summary of a run, in the order shown: status -> what happened to that many customers.
SUMMARY: dict[Status, str] = {
    Status.SENT: "Enviados",
    Status.SAVED: "Guardados en el buzón de salida",
    Status.BUILT: "Generados (simulación)",
    Status.PARTIAL: "Parciales",
    Status.FAILED: "Fallidos",
    Status.SKIPPED: "Omitidos",
    Status.UNCERTAIN: "Inciertos",
    Status.PENDING: "Pendientes",
    Status.BOUNCED: "Rebotados",
}


def spanish(word: str) -> str:
    """A mode's, status's or channel's Spanish word; an unknown word as it is."""
    return SPANISH.get(word, word)


def with_code(code: object, text: str) -> str:
    """A server's code and its text as shown, the code once: ``("550", "5.1.1 User
    unknown")`` -> ``"550 5.1.1 User unknown"``, but ``("5.1.1", "550 5.1.1 User
    unknown")`` -> ``"550 5.1.1 User unknown"`` and ``(250, "250 OK")`` -> ``"250 OK"``; a
    text that repeats its own opening codes (``"550 5.1.1 550 5.1.1 …"``) says them once."""
    head = str(code).split() if code not in (None, "") else []
    words = text.split()
    for size in (3, 2, 1):  # "550 5.1.1 550 5.1.1 x" -> "550 5.1.1 x"
        repeated = len(words) >= 2 * size and words[:size] == words[size : 2 * size]
        if repeated and all(any(c.isdigit() for c in w) for w in words[:size]):
            words = words[size:]
            break
    n = len(head)
    if head and (words[:n] == head or (words[1 : n + 1] == head and words[0][:1].isdigit())):
        head = []
    return " ".join([*head, *words])
