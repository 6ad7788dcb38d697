"""Settings: command-line option > ROTOMAIL_* environment variable > config.toml > default.

``load_settings`` returns every effective value together with where it came from, so
``rotomail config show`` can say so. The SMTP password is deliberately not a setting: it
comes from ``rotomail.delivery.secrets`` and is never stored or printed.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rotomail.company import LANGUAGES, CompanyProfile, normalize_clabe
from rotomail.errors import UsageError

APP_NAME = "rotomail"


@dataclass(frozen=True)
class Option:
    key: str  # dotted path in config.toml, e.g. "smtp.host"
    env: str | None
    default: Any
    kind: type = str
    choices: tuple[str, ...] = ()  # allowed values (case-insensitive), when limited


SECURITY_MODES = ("starttls", "ssl", "none")

OPTIONS: tuple[Option, ...] = (
    Option("database_url", "ROTOMAIL_DATABASE_URL", ""),
    # Seconds a command waits for another process's database lock before giving up.
    Option("busy_timeout", "ROTOMAIL_BUSY_TIMEOUT", 60.0, float),
    Option("smtp.host", "ROTOMAIL_SMTP_HOST", ""),
    Option("smtp.port", "ROTOMAIL_SMTP_PORT", 587, int),
    Option("smtp.security", "ROTOMAIL_SMTP_SECURITY", "starttls", choices=SECURITY_MODES),
    Option("smtp.user", "ROTOMAIL_SMTP_USER", ""),
    Option("smtp.auth", "ROTOMAIL_SMTP_AUTH", "password", choices=("password", "xoauth2")),
    Option("smtp.oauth_token_command", "ROTOMAIL_SMTP_OAUTH_TOKEN_COMMAND", ""),
    Option("smtp.timeout", "ROTOMAIL_SMTP_TIMEOUT", 30.0, float),
    Option("smtp.rate_per_minute", "ROTOMAIL_SMTP_RATE_PER_MINUTE", 30, int),
    Option("smtp.max_per_connection", "ROTOMAIL_SMTP_MAX_PER_CONNECTION", 100, int),
    Option("smtp.attempts", "ROTOMAIL_SMTP_ATTEMPTS", 3, int),
    Option("smtp.retry_wait", "ROTOMAIL_SMTP_RETRY_WAIT", 1.0, float),  # doubles per attempt
    Option("smtp.daily_cap", "ROTOMAIL_SMTP_DAILY_CAP", 0, int),
    # Render workers' niceness above the sending process's (0: the same priority).
    Option("render.nice", "ROTOMAIL_RENDER_NICE", 0, int),
    Option("operator.email", "ROTOMAIL_OPERATOR_EMAIL", ""),
    Option("operator.name", "ROTOMAIL_OPERATOR", ""),
)


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass
class Settings:
    home: Path
    home_source: str
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    companies: dict[str, CompanyProfile] = field(default_factory=dict)

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
        import getpass

        return self.values["operator.name"] or getpass.getuser()

    def company(self, sociedad: str) -> CompanyProfile:
        """The sociedad's profile; without a sender, the SMTP user or the operator sends."""
        from dataclasses import replace

        company = self.companies.get(sociedad) or CompanyProfile.fallback(sociedad)
        if not company.sender:
            sender = self.values["smtp.user"] or self.values["operator.email"]
            company = replace(company, sender=sender)
        return company


def _lookup(table: Mapping[str, Any], dotted: str) -> Any:
    node: Any = table
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _coerce(option: Option, raw: Any, origin: str) -> Any:
    if option.kind is str:
        return str(raw).strip()
    try:
        return option.kind(raw)
    except (TypeError, ValueError):
        raise UsageError(
            f"Configuración inválida: {option.key} = «{raw}» ({origin}) no es un número."
        ) from None


def read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"El archivo de configuración {path} no es TOML válido: {exc}") from None
    except OSError as exc:
        raise UsageError(f"No se pudo leer {path}: {exc.strerror}") from None


def _companies(table: Mapping[str, Any], path: Path) -> dict[str, CompanyProfile]:
    from rotomail.ids import normalize_sociedad

    result: dict[str, CompanyProfile] = {}
    raw = table.get("companies", {})
    if not isinstance(raw, Mapping):
        raise UsageError(f"{path}: [companies] debe ser una tabla por sociedad.")
    for code, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise UsageError(f"{path}: [companies.{code}] debe ser una tabla.")
        language = str(entry.get("language", "es")).strip().lower()
        if language not in LANGUAGES:
            raise UsageError(
                f"{path}: [companies.{code}] language = «{language}»; use es, pt o en."
            )
        clabe = str(entry.get("clabe", "")).strip()
        if clabe:
            try:
                clabe = normalize_clabe(clabe)
            except ValueError as exc:
                raise UsageError(f"{path}: [companies.{code}] clabe = «{clabe}»: {exc}.") from None
        sociedad = normalize_sociedad(code)
        result[sociedad] = CompanyProfile(
            code=sociedad,
            name=str(entry.get("name", sociedad)),
            rfc=str(entry.get("rfc", "")),
            sender=str(entry.get("sender", "")),
            reply_to=str(entry.get("reply_to", "")),
            phone=str(entry.get("phone", "")),
            language=language,
            bank=str(entry.get("bank", "")).strip(),
            clabe=clabe,
        )
    return result


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
    settings = Settings(home=home, home_source=home_source, companies=_companies(table, path))
    for option in OPTIONS:
        value, source = option.default, "predeterminado"
        from_file = _lookup(table, option.key)
        if from_file is not None:
            value, source = _coerce(option, from_file, str(path)), "config.toml"
        if option.env and env.get(option.env):
            value, source = _coerce(option, env[option.env], option.env), option.env
        if overrides.get(option.key) is not None:
            value, source = _coerce(option, overrides[option.key], "opción"), "opción"
        if option.choices:
            value = value.lower()
            if value not in option.choices:
                allowed = ", ".join(option.choices[:-1]) + f" o {option.choices[-1]}"
                raise UsageError(
                    f"Configuración inválida: {option.key} = «{value}» ({source}); use {allowed}."
                )
        settings.values[option.key] = value
        settings.sources[option.key] = source
    return settings
