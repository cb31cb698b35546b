"""Typed readers for deployment settings taken from the environment.

Each helper rejects ambiguous values instead of guessing, so a typo in production
fails at start-up rather than silently changing behaviour.
"""

import importlib.util
import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """A string setting; `NAME_FILE` (a path) wins, so secrets can live in files."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def debug_by_default(argv: list[str]) -> bool:
    """Whether the process is Django's development web server (`manage.py runserver`),
    the one place Django's debug mode helps a developer when DEBUG is not set."""
    return argv[1:2] == ["runserver"]


def secret_key(var_dir: Path, debug: bool) -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/.

    Without DEBUG a missing key is an error: a key generated on each of several
    machines would make their signed links disagree.
    """
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ValueError("SECRET_KEY must be set when DEBUG is off")
    key_file = var_dir / "secret_key"
    if not key_file.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def email_settings(url: str) -> dict[str, object]:
    """Django email settings from an `EMAIL_URL`.

    smtp://user:pass@host:25, smtp+tls://... (STARTTLS), smtps://... (implicit TLS),
    console://, outbox:// (the readable local outbox under var/outbox), or
    anymail://<esp>?<option>=<value>... (an email provider's API through django-anymail).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "anymail":
        return anymail_settings(parts.hostname or "", parts.query)
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "outbox":
        return {"EMAIL_BACKEND": "newsletter.outbox.OutboxEmailBackend"}
    if scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ValueError(
            f"EMAIL_URL scheme {scheme!r} is not one of "
            "smtp, smtp+tls, smtps, console, outbox, anymail"
        )
    query = parse_qs(parts.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": scheme == "smtp+tls",
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_TIMEOUT": int(query.get("timeout", ["30"])[0]),
    }


def anymail_settings(esp: str, query: str) -> dict[str, object]:
    """The ESP's django-anymail backend, and each query parameter as its ANYMAIL option:
    anymail://postmark?server_token=abc gives ANYMAIL["POSTMARK_SERVER_TOKEN"] = "abc".

    Values are percent-decoded only (a "+" in an API key stays a "+").
    """
    esp = esp.lower()
    if not esp.isidentifier() or importlib.util.find_spec(f"anymail.backends.{esp}") is None:
        raise ValueError(f"EMAIL_URL anymail://{esp} names no django-anymail backend")
    options: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        options[f"{esp.upper()}_{unquote(key).upper()}"] = unquote(value)
    return {"EMAIL_BACKEND": f"anymail.backends.{esp}.EmailBackend", "ANYMAIL": options}
