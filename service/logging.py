"""Structured JSON logs with a masking filter: no PIN, no 12-digit number, no known personal field, no ticket or
token in a URL reaches a log (uvicorn's access log goes through the same filter)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

# A 12-digit run is what a My Number (個人番号) looks like; mask every one, whatever it is.
_TWELVE_DIGITS = re.compile(r"(?<!\d)\d{4}[\s-]?\d{4}[\s-]?\d{4}(?!\d)")
# "pin=1234", "暗証番号: 123456", "password": "..." — keep the key, drop the value.
_SECRET_PAIRS = re.compile(
    r"""(?ix)
    (\b(?:pin|auth_pin|sign_password|password|passwd|secret|totp|code_b|kenhojo_pin)\b|暗証番号|パスワード|照合番号)
    (["']?\s*[:=]\s*["']?)
    ([^\s"',;}]+)
    """
)
# Fields that hold personal data if anyone ever logs them as structured extras.
PERSONAL_FIELDS = frozenset(
    {
        "full_name",
        "applicant_name",
        "kana",
        "address",
        "birth_date",
        "my_number",
        "individual_number",
        "pin",
        "password",
        "photo",
        "card_face",
        "resident_record",
    }
)
# A credential in a query string: the signaling socket's `?ticket=` (browsers cannot send it in a header), and any
# parameter named like a token, key or secret. uvicorn's access log prints the whole request target.
_QUERY_SECRETS = re.compile(
    r"""(?ix)
    ([?&](?:[a-z0-9]+[_.-])*(?:ticket|token|secret|key|apikey|signature|sig|password|passwd|pin|otp|totp|nonce|credential)=)
    ([^&#\s"']+)
    """
)
# The same credentials as JSON fields or `name: value` pairs outside a query string.
_TOKEN_PAIRS = re.compile(
    r"""(?ix)
    (\b(?:ticket|resume_token|access_token|refresh_token|api_key|token)\b)
    (["']?\s*[:=]\s*["']?)
    ([^\s"',;}&#]+)
    """
)
MASK = "***"


def mask_text(text: str) -> str:
    """The text with 12-digit numbers, secret values and query-string credentials masked."""
    text = _TWELVE_DIGITS.sub("<12-digit masked>", text)
    text = _QUERY_SECRETS.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _TOKEN_PAIRS.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _SECRET_PAIRS.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def _mask_value(key: str, value: Any) -> Any:
    if key.lower() in PERSONAL_FIELDS:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, v) for v in value]
    return value


class MaskingFilter(logging.Filter):
    """Rewrites each record's message and extras before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_text(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                record.__dict__[key] = _mask_value(key, value)
        return True


class HealthCheckFilter(logging.Filter):
    """Drops uvicorn's access line of a *successful* health check: a load balancer asks every replica every few
    hundred milliseconds (HAProxy here: 400 ms), which would bury every other line. A failing check is kept."""

    PATHS = frozenset({"/healthz", "/readyz"})

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client address, method, path with query, HTTP version, status code)
        if isinstance(args, tuple) and len(args) == 5:
            path, status = str(args[2]).partition("?")[0], args[4]
            return not (path in self.PATHS and status == 200)
        return True


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(body, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> dict[str, Any]:
    """A logging dictConfig (also handed to uvicorn) with JSON output and masking on every handler."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": MaskingFilter}, "health_checks": {"()": HealthCheckFilter}},
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["mask"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": ["stderr"], "propagate": False},
            "uvicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "uvicorn.access": {
                "level": level,
                "handlers": ["stderr"],
                "filters": ["health_checks"],
                "propagate": False,
            },
        },
    }
