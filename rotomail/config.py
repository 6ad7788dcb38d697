"""Settings: command-line option > ROTOMAIL_* environment variable > config.toml > default.

``load_settings`` returns every effective value together with where it came from, so
``rotomail config show`` can say so. The SMTP password is deliberately not a setting: it
comes from ``rotomail.delivery.secrets`` and is never stored or printed.
"""

from __future__ import annotations

import difflib
import getpass
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from rotomail.company import LANGUAGES, CompanyProfile, normalize_clabe
from rotomail.errors import UsageError
from rotomail.ids import normalize_sociedad

APP_NAME = "rotomail"


@dataclass(frozen=True)
class Option:
    key: str  # dotted path in config.toml, e.g. "smtp.host"
    env: str | None
    default: Any
    kind: type = str
    choices: tuple[str, ...] = ()  # allowed values (case-insensitive), when limited
    low: float | None = None  # smallest allowed number
    high: float | None = None  # largest allowed number
    above: bool = False  # ``low`` itself is not allowed (strictly greater)
    note: str = ""  # what a special value means, e.g. "0 = sin límite"

    def allowed(self) -> str:
        """The allowed values, in Spanish, for an error message and ``config show``."""
        if self.choices:
            return "uno de: " + ", ".join(self.choices)
        if self.kind is bool:
            return "true o false"
        if self.kind is str:
            return "un texto"
        what = "un número entero" if self.kind is int else "un número"
        low, high = _number_text(self.low), _number_text(self.high)
        if low and high:
            text = f"{what} entre {low} y {high}"
        elif low:
            text = f"{what} mayor que {low}" if self.above else f"{what} ≥ {low}"
        else:
            text = what
        return f"{text} ({self.note})" if self.note else text


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


SECURITY_MODES = ("starttls", "ssl", "none")

OPTIONS: tuple[Option, ...] = (
    Option("database_url", "ROTOMAIL_DATABASE_URL", ""),
    # Seconds a command waits for another process's database lock before giving up.
    Option(
        "busy_timeout", "ROTOMAIL_BUSY_TIMEOUT", 60.0, float, low=0, above=True, note="segundos"
    ),
    Option("smtp.host", "ROTOMAIL_SMTP_HOST", ""),
    Option("smtp.port", "ROTOMAIL_SMTP_PORT", 587, int, low=1, high=65535),
    Option("smtp.security", "ROTOMAIL_SMTP_SECURITY", "starttls", choices=SECURITY_MODES),
    Option("smtp.user", "ROTOMAIL_SMTP_USER", ""),
    Option("smtp.auth", "ROTOMAIL_SMTP_AUTH", "password", choices=("password", "xoauth2")),
    Option("smtp.oauth_token_command", "ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND", ""),
    Option(
        "smtp.timeout", "ROTOMAIL_SMTP_TIMEOUT", 30.0, float, low=0, above=True, note="segundos"
    ),
    Option(
        "smtp.rate_per_minute",
        "ROTOMAIL_SMTP_RATE_PER_MINUTE",
        30,
        int,
        low=0,
        note="0 = sin límite",
    ),
    Option(
        "smtp.max_per_connection",
        "ROTOMAIL_SMTP_MAX_PER_CONNECTION",
        100,
        int,
        low=0,
        note="0 = sin límite",
    ),
    # Connection-level retries (a lost connection, a 4xx at MAIL, 421): tries per message.
    Option("smtp.attempts", "ROTOMAIL_SMTP_ATTEMPTS", 3, int, low=1, high=100),
    Option(
        "smtp.retry_wait",
        "ROTOMAIL_SMTP_RETRY_WAIT",
        1.0,
        float,
        low=0,
        high=3600,
        note="segundos; se duplica en cada intento",
    ),
    # Addresses the server put off (greylisting): rounds at the end of the run.
    Option("smtp.retry_rounds", "ROTOMAIL_SMTP_RETRY_ROUNDS", 3, int, low=0, high=20),
    Option(
        "smtp.round_wait",
        "ROTOMAIL_SMTP_ROUND_WAIT",
        300.0,
        float,
        low=0,
        high=3600,
        note="segundos antes de cada ronda",
    ),
    Option("smtp.daily_cap", "ROTOMAIL_SMTP_DAILY_CAP", 0, int, low=0, note="0 = sin límite"),
    Option(
        "smtp.stop_after_failures",
        "ROTOMAIL_SMTP_STOP_AFTER_FAILURES",
        3,
        int,
        low=0,
        note="clientes seguidos sin conexión o inciertos; 0 = nunca detener",
    ),
    Option("render.nice", "ROTOMAIL_RENDER_NICE", 0, int, low=0, high=19),
    Option("operator.email", "ROTOMAIL_OPERATOR_EMAIL", ""),
    Option("operator.name", "ROTOMAIL_OPERATOR", ""),
    # The bounce mailbox read by ``rotomail bounces`` (IMAP, or a local Maildir).
    Option("bounces.imap_host", "ROTOMAIL_IMAP_HOST", ""),
    Option("bounces.imap_port", "ROTOMAIL_IMAP_PORT", 993, int, low=1, high=65535),
    Option("bounces.imap_security", "ROTOMAIL_IMAP_SECURITY", "ssl", choices=SECURITY_MODES),
    Option("bounces.imap_user", "ROTOMAIL_IMAP_USER", ""),
    Option("bounces.imap_auth", "ROTOMAIL_IMAP_AUTH", "password", choices=("password", "xoauth2")),
    Option("bounces.folder", "ROTOMAIL_BOUNCES_FOLDER", "INBOX"),
    Option("bounces.processed_folder", "ROTOMAIL_BOUNCES_PROCESSED_FOLDER", "rotomail-procesados"),
    Option("bounces.maildir", "ROTOMAIL_BOUNCES_MAILDIR", ""),
)

# Tables of field = "heading" maps, checked by ``column_map`` ([import.ledger] …).
FREE_TABLES = ("import.ledger", "import.customers")
# [document_types.CODE]: the document type's name in each language.
DOCUMENT_TYPE_KEYS = ("es", "en", "pt")
# CompanyProfile fields that are not keys of [companies.X].
_NOT_COMPANY_KEYS = ("code",)
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
    ),
    "customers": ("sociedad", "cliente", "nombre", "rfc", "correo", "idioma"),
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
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    companies: dict[str, CompanyProfile] = field(default_factory=dict)
    # [document_types.CODE] es/en/pt: the company's own document types in words
    document_types: dict[str, dict[str, str]] = field(default_factory=dict)
    imports: dict[str, dict[str, str]] = field(default_factory=dict)  # [import.ledger] …

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def config_path(self) -> Path:
        return self.home / "config.toml"

    @property
    def database_url(self) -> str:
        url = self.values["database_url"]
        return url or f"sqlite:///{self.home / 'rotomail.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def templates_dir(self) -> Path:
        return self.home / "templates"

    @property
    def operator_name(self) -> str:
        return self.values["operator.name"] or getpass.getuser()

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


_TRUE = ("true", "1", "yes", "sí", "si", "on")
_FALSE = ("false", "0", "no", "off", "")


def _number(option: Option, raw: Any, origin: str) -> int | float:
    """A number from TOML (int or float, never bool) or from an environment variable's text."""
    error = _invalid(option.key, raw, origin, option.allowed())
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise error
    if isinstance(raw, str):
        try:
            raw = int(raw.strip()) if option.kind is int else float(raw.strip())
        except ValueError:
            raise error from None
    if option.kind is int and not isinstance(raw, int):
        raise error  # 1.5 is not a port, and 1.0 is not written by anyone who means 1
    value: int | float = raw if option.kind is int else float(raw)
    if not math.isfinite(value):
        raise error
    if option.low is not None and (value < option.low or (option.above and value == option.low)):
        raise error
    if option.high is not None and value > option.high:
        raise error
    return value


def _coerce(option: Option, raw: Any, origin: str) -> Any:
    if option.kind is str:
        if not isinstance(raw, str):
            raise _invalid(option.key, raw, origin, option.allowed())
        value = raw.strip()
        if option.choices:
            value = value.lower()
            if value not in option.choices:
                allowed = ", ".join(option.choices[:-1]) + f" o {option.choices[-1]}"
                raise UsageError(
                    f"Configuración inválida: {option.key} = «{value}» ({origin}); use {allowed}."
                )
        return value
    if option.kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        raise _invalid(option.key, raw, origin, option.allowed())
    return _number(option, raw, origin)


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
    scalars = {option.key for option in OPTIONS}
    sections = {key.split(".")[0] for key in scalars if "." in key}
    sections |= {"companies", "document_types", "import"}
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
    for name in entry:
        if name not in names:
            raise _unknown(
                f"companies.{code}.{name}", [f"companies.{code}.{n}" for n in names], path
            )


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
            elif not isinstance(raw, str):
                raise _invalid(dotted, raw, str(path), "un texto")
            else:
                values[item.name] = raw.strip()
        if values.get("logo"):  # relative to the folder of config.toml
            values["logo"] = str((path.parent / Path(values["logo"]).expanduser()).resolve())
        if "address" in values:
            values["address"] = " ".join(values["address"].split())
        values.update(code=sociedad, name=values.get("name", ""), language=language, clabe=clabe)
        result[sociedad] = CompanyProfile(**values)
    return result


def _document_types(table: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``[document_types.ZR] es = "…" en = "…" pt = "…"``: a company's own codes in words
    (their shape is checked with every other key by ``check_keys``)."""
    return {
        str(code).strip().upper(): {
            lang: " ".join(str(text).split()) for lang, text in words.items()
        }
        for code, words in table.get("document_types", {}).items()
    }


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
    )
    for option in OPTIONS:
        value, source = option.default, "predeterminado"
        from_file = _lookup(table, option.key)
        if from_file is not None:
            value, source = _coerce(option, from_file, str(path)), "config.toml"
        if option.env and env.get(option.env):
            value, source = _coerce(option, env[option.env], option.env), option.env
        if overrides.get(option.key) is not None:
            value, source = _coerce(option, overrides[option.key], "opción"), "opción"
        settings.values[option.key] = value
        settings.sources[option.key] = source
    return settings
