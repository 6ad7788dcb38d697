"""Settings: command-line option > ROTOMAIL_* environment variable > config.toml > default.

``load_settings`` returns every effective value together with where it came from, so
``rotomail config show`` can say so. The SMTP password is deliberately not a setting: it
comes from ``rotomail.delivery.secrets`` and is never stored or printed.
"""

from __future__ import annotations

import difflib
import getpass
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from platformdirs import user_data_dir
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
)
from pydantic.fields import FieldInfo

from rotomail.company import (
    COLLECTOR_CODE_MAX,
    COPIES_MAX_MB,
    LANGUAGES,
    LOCALIZED_KEYS,
    Collector,
    CompanyProfile,
    collector_code,
    copy_pattern_fields,
    minimum_amount,
    normalize_clabe,
)
from rotomail.errors import UsageError
from rotomail.ids import normalize_sociedad

APP_NAME = "rotomail"


class Env:
    """The ROTOMAIL_* environment variable a setting is read from (``Annotated`` metadata)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _number_from(kind: type[int] | type[float]) -> BeforeValidator:
    """Text (an environment variable, or a quoted number in config.toml) read as a number;
    anything else is left to the strict check, so ``true`` or ``1.5`` is no port."""

    def read(raw: Any) -> Any:
        if isinstance(raw, str):
            with suppress(ValueError):
                return kind(raw.strip())
        return raw

    return BeforeValidator(read)


def _folded(raw: Any) -> Any:
    return raw.strip().lower() if isinstance(raw, str) else raw


# A whole number, or a finite number; never a bool, and 1.0 is not written by anyone who
# means 1. Ranges are declared per setting with Field(ge=…, le=…, gt=…).
Int = Annotated[int, _number_from(int), Strict()]
Float = Annotated[float, _number_from(float), Strict(), AllowInfNan(False)]
SecurityMode = Literal["starttls", "ssl", "none"]
SECURITY_MODES: tuple[str, ...] = get_args(SecurityMode)
AuthMethod = Literal["password", "xoauth2"]
Security = Annotated[SecurityMode, BeforeValidator(_folded)]
_TRUTH = {"true": True, "1": True, "si": True, "sí": True, "false": False, "0": False, "no": False}


def _bool_from_text(raw: Any) -> Any:
    """An environment variable's ``true``/``false`` (``1``/``0``, ``sí``/``no``) as a bool;
    anything else is left to the strict check."""
    if isinstance(raw, str):
        return _TRUTH.get(raw.strip().lower(), raw)
    return raw


Bool = Annotated[bool, BeforeValidator(_bool_from_text), Strict()]
Auth = Annotated[AuthMethod, BeforeValidator(_folded)]


class Section(BaseModel):
    """A table of settings: unknown keys are refused, text is stripped, values are final.
    Built on first use (``defer_build``): ``rotomail --help`` never pays for it."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, defer_build=True
    )


class SmtpSection(Section):
    host: Annotated[str, Env("ROTOMAIL_SMTP_HOST")] = ""
    port: Annotated[Int, Env("ROTOMAIL_SMTP_PORT"), Field(ge=1, le=65535)] = 587
    security: Annotated[Security, Env("ROTOMAIL_SMTP_SECURITY")] = "starttls"
    user: Annotated[str, Env("ROTOMAIL_SMTP_USER")] = ""
    auth: Annotated[Auth, Env("ROTOMAIL_SMTP_AUTH")] = "password"
    oauth_token_command: Annotated[str, Env("ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND")] = ""
    timeout: Annotated[Float, Env("ROTOMAIL_SMTP_TIMEOUT"), Field(gt=0, description="segundos")] = (
        30.0
    )
    rate_per_minute: Annotated[
        Int, Env("ROTOMAIL_SMTP_RATE_PER_MINUTE"), Field(ge=0, description="0 = sin límite")
    ] = 30
    max_per_connection: Annotated[
        Int, Env("ROTOMAIL_SMTP_MAX_PER_CONNECTION"), Field(ge=0, description="0 = sin límite")
    ] = 100
    # SMTP sessions at once (Microsoft 365 allows 3 concurrent connections per mailbox);
    # the rate limit, daily cap and circuit breakers hold for all of them together.
    sessions: Annotated[
        Int, Env("ROTOMAIL_SMTP_SESSIONS"), Field(ge=1, le=10, description="sesiones a la vez")
    ] = 3
    # Connection-level retries (a lost connection, a 421, a 4xx at MAIL): tries per message.
    attempts: Annotated[Int, Env("ROTOMAIL_SMTP_ATTEMPTS"), Field(ge=1, le=100)] = 3
    retry_wait: Annotated[
        Float,
        Env("ROTOMAIL_SMTP_RETRY_WAIT"),
        Field(ge=0, le=3600, description="segundos; se duplica en cada intento"),
    ] = 1.0
    # Addresses the server put off (a 4xx to RCPT or DATA: greylisting): rounds at the end
    # of the run, ``round_wait`` seconds before each.
    retry_rounds: Annotated[Int, Env("ROTOMAIL_SMTP_RETRY_ROUNDS"), Field(ge=0, le=20)] = 3
    round_wait: Annotated[
        Float,
        Env("ROTOMAIL_SMTP_ROUND_WAIT"),
        Field(ge=0, le=3600, description="segundos antes de cada ronda"),
    ] = 300.0
    daily_cap: Annotated[
        Int, Env("ROTOMAIL_SMTP_DAILY_CAP"), Field(ge=0, description="0 = sin límite")
    ] = 0
    stop_after_failures: Annotated[
        Int,
        Env("ROTOMAIL_SMTP_STOP_AFTER_FAILURES"),
        Field(ge=0, description="clientes seguidos sin conexión o inciertos; 0 = nunca detener"),
    ] = 3


class RenderSection(Section):
    nice: Annotated[Int, Env("ROTOMAIL_RENDER_NICE"), Field(ge=0, le=19)] = 0


class StatementSection(Section):
    """``[statement]``: ``keep`` here; ``aging`` is read beside the model (a list)."""

    # Every statement sent is kept as <home>/statements/<sociedad>/<date>/<file>.pdf.
    keep: Annotated[Bool, Env("ROTOMAIL_STATEMENT_KEEP")] = True


class OperatorSection(Section):
    email: Annotated[str, Env("ROTOMAIL_OPERATOR_EMAIL")] = ""
    name: Annotated[str, Env("ROTOMAIL_OPERATOR")] = ""
    # each collector is e-mailed the run log of their own customers
    collectors_log: Annotated[Bool, Env("ROTOMAIL_OPERATOR_COLLECTORS_LOG")] = False


class BouncesSection(Section):
    """The bounce mailbox read by ``rotomail bounces`` (IMAP, or a local Maildir)."""

    imap_host: Annotated[str, Env("ROTOMAIL_IMAP_HOST")] = ""
    imap_port: Annotated[Int, Env("ROTOMAIL_IMAP_PORT"), Field(ge=1, le=65535)] = 993
    imap_security: Annotated[Security, Env("ROTOMAIL_IMAP_SECURITY")] = "ssl"
    imap_user: Annotated[str, Env("ROTOMAIL_IMAP_USER")] = ""
    imap_auth: Annotated[Auth, Env("ROTOMAIL_IMAP_AUTH")] = "password"
    folder: Annotated[str, Env("ROTOMAIL_BOUNCES_FOLDER")] = "INBOX"
    processed_folder: Annotated[str, Env("ROTOMAIL_BOUNCES_PROCESSED_FOLDER")] = (
        "rotomail-procesados"
    )
    maildir: Annotated[str, Env("ROTOMAIL_BOUNCES_MAILDIR")] = ""


class Options(Section):
    """Every setting a value can be given for, by option, environment or config.toml."""

    database_url: Annotated[str, Env("ROTOMAIL_DATABASE_URL")] = ""
    # Seconds a command waits for another process's database lock before giving up.
    busy_timeout: Annotated[
        Float, Env("ROTOMAIL_BUSY_TIMEOUT"), Field(gt=0, description="segundos")
    ] = 60.0
    smtp: SmtpSection = Field(default_factory=SmtpSection)
    render: RenderSection = Field(default_factory=RenderSection)
    operator: OperatorSection = Field(default_factory=OperatorSection)
    bounces: BouncesSection = Field(default_factory=BouncesSection)
    statement: StatementSection = Field(default_factory=StatementSection)

    def flat(self) -> dict[str, Any]:
        """Each setting's value by its dotted key ("smtp.host"), in declaration order."""
        return {key: _get(self, key) for key in option_fields()}


def _sections() -> dict[str, type[Section]]:
    return {
        name: info.annotation
        for name, info in Options.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
    }


def option_fields() -> dict[str, FieldInfo]:
    """Every setting's field by its dotted key, in declaration order."""
    result: dict[str, FieldInfo] = {}
    sections = _sections()
    for name, info in Options.model_fields.items():
        if name in sections:
            for inner, inner_info in sections[name].model_fields.items():
                result[f"{name}.{inner}"] = inner_info
        else:
            result[name] = info
    return result


def _get(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _env_name(info: FieldInfo) -> str:
    return next(item.name for item in info.metadata if isinstance(item, Env))


def _choices(info: FieldInfo) -> tuple[str, ...]:
    return get_args(info.annotation) if get_origin(info.annotation) is Literal else ()


def allowed(info: FieldInfo) -> str:
    """What a setting allows, in Spanish, from its declared type and range."""
    choices = _choices(info)
    if choices:
        return "uno de: " + ", ".join(choices)
    if info.annotation is str:
        return "un texto"
    if info.annotation is bool:
        return "true o false"
    what = "un número entero" if info.annotation is int else "un número"
    low: Any = None
    high: Any = None
    above = False
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, above = item.gt, True
        elif isinstance(item, annotated_types.Le):
            high = item.le
    low_text, high_text = _number_text(low), _number_text(high)
    if low_text and high_text:
        text = f"{what} entre {low_text} y {high_text}"
    elif low_text:
        text = f"{what} mayor que {low_text}" if above else f"{what} ≥ {low_text}"
    else:
        text = what
    return f"{text} ({info.description})" if info.description else text


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


# [statement] aging: the highest days overdue of each aging bucket but the last (after "Por
# vencer"); the default gives 1–30, 31–60, 61–90 and "Más de 90 días".
DEFAULT_AGING = (30, 60, 90)
AGING_KEY = "statement.aging"
AGING_MAX_BUCKETS = 6
AGING_MAX_DAYS = 3650

# Tables of field = "heading" maps, checked by ``column_map`` ([import.ledger] …).
FREE_TABLES = ("import.ledger", "import.customers")
# [document_types.CODE]: the document type's name in each language.
DOCUMENT_TYPE_KEYS = ("es", "en", "pt")
# [collectors.SOCIEDAD.CODE]: a customer's collector (the master's "Encargado").
COLLECTOR_KEYS = ("name", "email", "phone")
# CompanyProfile fields that are not keys of [companies.X].
_NOT_COMPANY_KEYS = ("code", "base_dir", "localized")
# Fields the importers read; ``[import.ledger]`` / ``[import.customers]`` (and ``--column``)
# map them to a file's own headings: ``vencimiento = "Venc.neto"``.
IMPORT_FIELDS: dict[str, tuple[str, ...]] = {
    "ledger": (
        "sociedad",
        "cliente",
        "documento",
        "tipo",
        "referencia",
        "fecha_documento",
        "fecha_base",
        "vencimiento",
        "importe_md",
        "moneda_md",
        "importe_ml",
        "moneda_ml",
        "texto",
        "doc_compensacion",
        "fecha_compensacion",
        "asignacion",
        "bloqueo",
    ),
    "customers": ("sociedad", "cliente", "nombre", "rfc", "correo", "idioma", "ejecutivo"),
}


def column_map(table: str, entries: Mapping[str, Any], origin: str) -> dict[str, str]:
    """A validated ``field -> heading`` map; an unknown field names the valid ones (exit 2)."""
    valid = IMPORT_FIELDS[table]
    result: dict[str, str] = {}
    for name, heading in entries.items():
        field_name = str(name).strip().lower()
        if field_name not in valid:
            raise UsageError(
                f"{origin}: campo «{name}» desconocido; los campos son: {', '.join(valid)}."
            )
        text = str(heading).strip() if isinstance(heading, str) else ""
        if not text:
            raise UsageError(f"{origin}: {field_name} necesita el encabezado de la columna.")
        result[field_name] = text
    return result


def _imports(table: Mapping[str, Any], path: Path) -> dict[str, dict[str, str]]:
    raw = table.get("import", {})
    if not isinstance(raw, Mapping):
        raise UsageError(f"{path}: [import] debe contener las tablas ledger y customers.")
    result: dict[str, dict[str, str]] = {}
    for name in IMPORT_FIELDS:
        entries = raw.get(name, {})
        if not isinstance(entries, Mapping):
            raise UsageError(f'{path}: [import.{name}] debe ser una tabla campo = "encabezado".')
        result[name] = column_map(name, entries, f"{path} [import.{name}]")
    return result


def default_home() -> Path:
    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass
class Settings:
    home: Path
    home_source: str
    options: Options = field(default_factory=Options)
    sources: dict[str, str] = field(default_factory=dict)  # dotted key -> where its value came from
    companies: dict[str, CompanyProfile] = field(default_factory=dict)
    # [document_types.CODE] es/en/pt: the company's own document types in words
    document_types: dict[str, dict[str, str]] = field(default_factory=dict)
    imports: dict[str, dict[str, str]] = field(default_factory=dict)  # [import.ledger] …
    aging: tuple[int, ...] = DEFAULT_AGING  # [statement] aging
    # [collectors.SOCIEDAD.CODE]: sociedad -> collector code -> collector
    collectors: dict[str, dict[str, Collector]] = field(default_factory=dict)

    @property
    def smtp(self) -> SmtpSection:
        return self.options.smtp

    @property
    def render(self) -> RenderSection:
        return self.options.render

    @property
    def operator(self) -> OperatorSection:
        return self.options.operator

    @property
    def bounces(self) -> BouncesSection:
        return self.options.bounces

    @property
    def statement(self) -> StatementSection:
        return self.options.statement

    @property
    def busy_timeout(self) -> float:
        return self.options.busy_timeout

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def database_url(self) -> str:
        return self.options.database_url or f"sqlite:///{self.home / 'rotomail.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def statements_dir(self) -> Path:
        """Where every statement sent is kept, per sociedad and cut-off date."""
        return self.home / "statements"

    @property
    def templates_dir(self) -> Path:
        return self.home / "templates"

    @property
    def operator_name(self) -> str:
        return self.options.operator.name or getpass.getuser()

    def company(self, sociedad: str) -> CompanyProfile:
        """The sociedad's complete profile: a statement never goes out headed by a bare
        code, without a legal name or From the operator's address (UsageError, exit 2)."""
        company = self.companies.get(sociedad)
        if company is None:
            raise UsageError(
                f"La sociedad {sociedad} no tiene perfil en config.toml: agregue "
                f"[companies.{sociedad}] con name y sender."
            )
        where = f"[companies.{sociedad}] de config.toml"
        missing = [key for key in ("name", "sender") if not getattr(company, key).strip()]
        if missing:
            raise UsageError(f"{where} no tiene {' ni '.join(missing)}; se necesita para enviar.")
        if company.logo:
            check_logo(Path(company.logo), where)
        return company


def check_logo(path: Path, where: str) -> None:
    """The letterhead logo must be a PNG or JPEG fpdf2 can read (UsageError otherwise)."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError as exc:
        raise UsageError(f"{where}: logo = «{path}»: no se pudo leer ({exc.strerror}).") from None
    if not (magic.startswith(b"\x89PNG\r\n\x1a\n") or magic.startswith(b"\xff\xd8\xff")):
        raise UsageError(f"{where}: logo = «{path}»: no es una imagen PNG ni JPEG.")
    from PIL import Image, UnidentifiedImageError  # Pillow comes with fpdf2

    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        raise UsageError(f"{where}: logo = «{path}»: la imagen está dañada.") from None


def _lookup(table: Mapping[str, Any], dotted: str) -> Any:
    node: Any = table
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _invalid(key: str, raw: Any, origin: str, allowed: str) -> UsageError:
    shown = raw if isinstance(raw, str) else repr(raw)
    return UsageError(f"Configuración inválida: {key} = «{shown}» ({origin}); debe ser {allowed}.")


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"smtp.host": x} -> {"smtp": {"host": x}}."""
    result: dict[str, Any] = {}
    for dotted, value in flat.items():
        *sections, name = dotted.split(".")
        node = result
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return result


def _checked(flat: Mapping[str, Any], origin: Callable[[str], str]) -> Options:
    """One source's values (dotted key -> value as given), checked against ``Options``.
    pydantic's complaint becomes one Spanish line naming the key, where the value came from
    and what the setting allows (UsageError, exit 2)."""
    try:
        return Options.model_validate(_nested(flat))
    except ValidationError as exc:
        key = ".".join(str(part) for part in exc.errors()[0]["loc"])
        raise _refused(key, flat.get(key), origin(key)) from None


def _refused(key: str, raw: Any, origin: str) -> UsageError:
    info = option_fields().get(key)
    if info is None:  # not reached: only known keys are checked
        return UsageError(f"Configuración inválida: {key} ({origin}).")
    choices = _choices(info)
    if choices and isinstance(raw, str):
        value = raw.strip().lower()
        listed = ", ".join(choices[:-1]) + f" o {choices[-1]}"
        return UsageError(f"Configuración inválida: {key} = «{value}» ({origin}); use {listed}.")
    return _invalid(key, raw, origin, allowed(info))


_UTF8_BOM = b"\xef\xbb\xbf"


def _decode_config(data: bytes, path: Path) -> str:
    """config.toml as UTF-8, with or without a BOM (Notepad writes one)."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise UsageError(
            f"El archivo de configuración {path} está guardado en UTF-16; "
            "guárdelo como UTF-8 (en el Bloc de notas: Guardar como → Codificación UTF-8)."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            f"El archivo de configuración {path} no está en UTF-8 (línea {line}; "
            "¿guardado como ANSI/Windows-1252?); guárdelo como UTF-8."
        ) from None


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"No se pudo leer {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(_decode_config(data, path))
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"El archivo de configuración {path} no es TOML válido: {exc}") from None


def company_keys() -> tuple[str, ...]:
    return tuple(f.name for f in fields(CompanyProfile) if f.name not in _NOT_COMPANY_KEYS)


def _unknown(key: str, known: Iterable[str], path: Path) -> UsageError:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.5)
    hint = f"; ¿quiso decir «{close[0]}»?" if close else ""
    return UsageError(f"{path}: clave desconocida «{key}»{hint}")


def check_keys(table: Mapping[str, Any], path: Path) -> None:
    """Every key and table of config.toml is one rotomail knows: a typo is an error naming
    the closest known key, never a setting silently ignored."""
    scalars = set(option_fields())
    sections = {key.split(".")[0] for key in scalars if "." in key}
    scalars.add(AGING_KEY)
    sections |= {"companies", "document_types", "import", "statement", "collectors"}
    companies = [f"companies.SOCIEDAD.{name}" for name in company_keys()]
    known = sorted(scalars | sections | set(FREE_TABLES) | set(companies))
    for key, value in table.items():
        if key in scalars:
            continue
        if key not in sections:
            raise _unknown(key, known, path)
        if not isinstance(value, Mapping):
            raise UsageError(f"{path}: [{key}] debe ser una tabla.")
        for name, inner in value.items():
            dotted = f"{key}.{name}"
            if key == "companies":
                _check_company(name, inner, path)
            elif key == "document_types":
                _check_document_type(name, inner, path)
            elif key == "collectors":
                _check_collectors(name, inner, path)
            elif key == "import":
                if dotted not in FREE_TABLES:
                    raise _unknown(dotted, FREE_TABLES, path)
                if not isinstance(inner, Mapping):
                    raise UsageError(
                        f'{path}: [{dotted}] debe ser una tabla de campo = "encabezado".'
                    )
            elif dotted not in scalars:
                raise _unknown(dotted, known, path)


def _check_company(code: str, entry: Any, path: Path) -> None:
    if not isinstance(entry, Mapping):
        raise UsageError(f"{path}: [companies.{code}] debe ser una tabla.")
    names = company_keys()
    for name, inner in entry.items():
        if name in LANGUAGES:  # [companies.SM02.en] phone = "…" address = "…"
            _check_company_language(f"companies.{code}.{name}", inner, path)
        elif name not in names:
            raise _unknown(
                f"companies.{code}.{name}",
                [f"companies.{code}.{n}" for n in (*names, *LANGUAGES)],
                path,
            )


def _check_company_language(where: str, entry: Any, path: Path) -> None:
    if not isinstance(entry, Mapping):
        raise UsageError(
            f"{path}: [{where}] debe ser una tabla con "
            + " y ".join(LOCALIZED_KEYS)
            + " en ese idioma."
        )
    for name, value in entry.items():
        if name not in LOCALIZED_KEYS:
            raise _unknown(f"{where}.{name}", [f"{where}.{k}" for k in LOCALIZED_KEYS], path)
        if not isinstance(value, str):
            raise _invalid(f"{where}.{name}", value, str(path), "un texto")


def _check_document_type(code: str, entry: Any, path: Path) -> None:
    if not isinstance(entry, Mapping):
        raise UsageError(
            f"{path}: [document_types.{code}] debe ser una tabla con es, en y pt "
            "(el nombre del tipo de documento en cada idioma)."
        )
    for name, value in entry.items():
        dotted = f"document_types.{code}.{name}"
        if name not in DOCUMENT_TYPE_KEYS:
            raise _unknown(dotted, [f"document_types.{code}.{k}" for k in DOCUMENT_TYPE_KEYS], path)
        if not isinstance(value, str):
            raise _invalid(dotted, value, str(path), "un texto")


def _check_collectors(sociedad: str, entries: Any, path: Path) -> None:
    if not isinstance(entries, Mapping):
        raise UsageError(
            f"{path}: [collectors.{sociedad}] debe contener una tabla por ejecutivo, "
            f'p. ej. [collectors.{sociedad}.C1] con name = "…" y email = "…".'
        )
    for code, entry in entries.items():
        where = f"collectors.{sociedad}.{code}"
        if not isinstance(entry, Mapping):
            raise UsageError(f"{path}: [{where}] debe ser una tabla con name, email y phone.")
        if len(collector_code(code)) > COLLECTOR_CODE_MAX:
            raise UsageError(
                f"{path}: [{where}]: el código de ejecutivo lleva hasta "
                f"{COLLECTOR_CODE_MAX} caracteres."
            )
        for name, value in entry.items():
            if name not in COLLECTOR_KEYS:
                raise _unknown(f"{where}.{name}", [f"{where}.{k}" for k in COLLECTOR_KEYS], path)
            if not isinstance(value, str):
                raise _invalid(f"{where}.{name}", value, str(path), "un texto")
        for needed in ("name", "email"):
            if not str(entry.get(needed, "")).strip():
                raise UsageError(f"{path}: [{where}] no tiene {needed}.")


def _collectors(table: Mapping[str, Any]) -> dict[str, dict[str, Collector]]:
    """``[collectors.SM02.C1] name = "…" email = "…" phone = "…"`` (their shape is checked
    with every other key by ``check_keys``; the e-mail like every address when a run uses
    it)."""
    result: dict[str, dict[str, Collector]] = {}
    for sociedad, entries in table.get("collectors", {}).items():
        by_code = result.setdefault(normalize_sociedad(sociedad), {})
        for code, entry in entries.items():
            normalized = collector_code(code)
            by_code[normalized] = Collector(
                normalized,
                " ".join(entry["name"].split()),
                entry["email"].strip(),
                " ".join(entry.get("phone", "").split()),
            )
    return result


def _companies(table: Mapping[str, Any], path: Path) -> dict[str, CompanyProfile]:
    result: dict[str, CompanyProfile] = {}
    raw = table.get("companies", {})
    if not isinstance(raw, Mapping):
        raise UsageError(f"{path}: [companies] debe ser una tabla por sociedad.")
    for code, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise UsageError(f"{path}: [companies.{code}] debe ser una tabla.")
        language = entry.get("language", "es")
        if not isinstance(language, str):
            raise _invalid(f"companies.{code}.language", language, str(path), "es, pt o en")
        language = language.strip().lower()
        if language not in LANGUAGES:
            raise UsageError(
                f"{path}: [companies.{code}] language = «{language}»; use es, pt o en."
            )
        clabe = entry.get("clabe", "")
        if not isinstance(clabe, str):
            raise _invalid(f"companies.{code}.clabe", clabe, str(path), "un texto de 18 dígitos")
        clabe = clabe.strip()
        if clabe:
            try:
                clabe = normalize_clabe(clabe)
            except ValueError as exc:
                raise UsageError(f"{path}: [companies.{code}] clabe = «{clabe}»: {exc}.") from None
        if entry.get("verp") is True and not str(entry.get("bounce_address", "")).strip():
            raise UsageError(
                f"{path}: [companies.{code}] verp = true necesita bounce_address, "
                "por ejemplo «rebotes@dominio»."
            )
        sociedad = normalize_sociedad(code)
        values: dict[str, Any] = {}
        for item in fields(CompanyProfile):
            if item.name in _NOT_COMPANY_KEYS or item.name not in entry:
                continue
            raw, dotted = entry[item.name], f"companies.{code}.{item.name}"
            if isinstance(item.default, bool):
                if not isinstance(raw, bool):
                    raise _invalid(dotted, raw, str(path), "true o false")
                values[item.name] = raw
            elif isinstance(item.default, float):
                values[item.name] = _megabytes(raw, dotted, path)
            elif item.name == "min_balance":
                try:
                    values[item.name] = minimum_amount(raw)
                except ValueError:
                    raise _invalid(
                        dotted, raw, str(path), "un importe de 0 o mayor, p. ej. 500"
                    ) from None
            elif not isinstance(raw, str):
                raise _invalid(dotted, raw, str(path), "un texto")
            else:
                values[item.name] = raw.strip()
        if values.get("logo"):  # relative to the folder of config.toml
            values["logo"] = str((path.parent / Path(values["logo"]).expanduser()).resolve())
        if "address" in values:
            values["address"] = " ".join(values["address"].split())
        try:
            copy_pattern_fields(values.get("invoice_copies", ""))
        except ValueError as exc:
            raise UsageError(
                f"{path}: [companies.{code}] invoice_copies = «{values['invoice_copies']}»: {exc}."
            ) from None
        if values.get("invoice_copies"):  # "~/cfdi/{referencia}" as the shell would read it
            values["invoice_copies"] = os.path.expanduser(values["invoice_copies"])
        values["base_dir"] = str(path.parent.resolve())
        values["localized"] = tuple(
            (lang, key, " ".join(text.split()))
            for lang in LANGUAGES
            if isinstance(entry.get(lang), Mapping)
            for key, text in entry[lang].items()
        )
        values.update(code=sociedad, name=values.get("name", ""), language=language, clabe=clabe)
        result[sociedad] = CompanyProfile(**values)
    return result


def _megabytes(raw: Any, dotted: str, path: Path) -> float:
    """invoice_copies_max_mb: a number of megabytes, more than 0 and at most COPIES_MAX_MB."""
    number = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    if number is None or not 0 < number <= COPIES_MAX_MB:
        raise _invalid(
            dotted, raw, str(path), f"un número de megabytes mayor que 0 y hasta {COPIES_MAX_MB}"
        )
    return float(number)


def _document_types(table: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``[document_types.ZR] es = "…" en = "…" pt = "…"``: a company's own codes in words
    (their shape is checked with every other key by ``check_keys``)."""
    return {
        str(code).strip().upper(): {
            lang: " ".join(str(text).split()) for lang, text in words.items()
        }
        for code, words in table.get("document_types", {}).items()
    }


def _aging(table: Mapping[str, Any], path: Path) -> tuple[int, ...]:
    """``[statement] aging = [30, 60, 90, 120]``: 1 to 6 whole numbers of days, ascending."""
    raw = _lookup(table, AGING_KEY)
    if raw is None:
        return DEFAULT_AGING
    valid = (
        isinstance(raw, list)
        and 1 <= len(raw) <= AGING_MAX_BUCKETS
        and all(isinstance(d, int) and not isinstance(d, bool) for d in raw)
        and all(1 <= d <= AGING_MAX_DAYS for d in raw)
        and all(a < b for a, b in pairwise(raw))
    )
    if not valid:
        raise _invalid(
            AGING_KEY,
            raw,
            str(path),
            f"una lista de 1 a {AGING_MAX_BUCKETS} números enteros de días entre 1 y "
            f"{AGING_MAX_DAYS}, de menor a mayor, p. ej. [30, 60, 90, 120]",
        )
    return tuple(raw)


def _check_home(home: Path, source: str) -> None:
    """The data folder must be a folder, or creatable: not a file, nor under one."""
    where = {"opción": "--home", "ROTOMAIL_HOME": "ROTOMAIL_HOME"}.get(
        source, "la carpeta de datos"
    )
    for folder in (home, *home.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                detail = "es un archivo" if folder == home else f"{folder} es un archivo"
                raise UsageError(
                    f"{where} = {home} no se puede usar como carpeta de datos: {detail}."
                )
            return


def load_settings(
    overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    env = os.environ if env is None else env
    overrides = overrides or {}
    if overrides.get("home"):
        home, home_source = Path(overrides["home"]), "opción"
    elif env.get("ROTOMAIL_HOME"):
        home, home_source = Path(env["ROTOMAIL_HOME"]), "ROTOMAIL_HOME"
    else:
        home, home_source = default_home(), "predeterminado"
    home = home.expanduser()
    _check_home(home, home_source)
    path = home / "config.toml"
    table = read_config_file(path)
    check_keys(table, path)
    settings = Settings(
        home=home,
        home_source=home_source,
        companies=_companies(table, path),
        document_types=_document_types(table),
        imports=_imports(table, path),
        aging=_aging(table, path),
        collectors=_collectors(table),
    )
    keys = option_fields()

    def env_name(key: str) -> str:
        return _env_name(keys[key])

    from_file = {key: value for key in keys if (value := _lookup(table, key)) is not None}
    from_env = {key: env[env_name(key)] for key in keys if env.get(env_name(key))}
    from_options = {key: overrides[key] for key in keys if overrides.get(key) is not None}
    layers: tuple[tuple[dict[str, Any], Callable[[str], str], Callable[[str], str]], ...] = (
        # values as given, where an error says a value came from, its origin in config show
        (from_file, lambda key: str(path), lambda key: "config.toml"),
        (from_env, env_name, env_name),
        (from_options, lambda key: "opción", lambda key: "opción"),
    )
    merged: dict[str, Any] = {}
    settings.sources = dict.fromkeys(keys, "predeterminado")
    for given, where, source in layers:
        checked = _checked(given, where)  # each source whole: a bad value is never hidden
        for key in given:
            merged[key] = _get(checked, key)
            settings.sources[key] = source(key)
    settings.options = Options.model_validate(_nested(merged))
    settings.sources[AGING_KEY] = "config.toml" if _lookup(table, AGING_KEY) else "predeterminado"
    return settings
