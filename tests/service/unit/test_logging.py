"""The log masking filter and the JSON formatter."""

from __future__ import annotations

import json
import logging

import pytest

from service.logging import HealthCheckFilter, JsonFormatter, MaskingFilter, configure, mask_text


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("number 123456789012 seen", "123456789012"),
        ("number 1234 5678 9012 seen", "1234 5678 9012"),
        ("number 1234-5678-9012 seen", "1234-5678-9012"),
        ("pin=4721 given", "4721"),
        ('{"auth_pin": "4721"}', "4721"),
        ("暗証番号: 4721", "4721"),
        ("password=HANAKO2025", "HANAKO2025"),
        ("code_b=60041220344821", "60041220344821"),
    ],
)
def test_secrets_are_masked(raw: str, leak: str) -> None:
    assert leak not in mask_text(raw)


def test_ordinary_text_is_kept() -> None:
    text = "case case_abc moved to approved; 申請書ID 12345678901234567890123 accepted; port 8300"
    # A 23-digit 申請書ID is not a 12-digit run; times and ports stay readable.
    assert mask_text(text) == text


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("hub", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_filter_masks_message_and_personal_extras() -> None:
    record = _record(
        "resident 123456789012 pin=1234", full_name="山田 花子", address="架空町1-1", case_id="case_1"
    )
    assert MaskingFilter().filter(record)
    line = JsonFormatter().format(record)
    body = json.loads(line)
    assert "123456789012" not in line
    assert "1234" not in body["message"].replace("<12-digit masked>", "")
    assert "山田" not in line
    assert "架空町" not in line
    assert body["case_id"] == "case_1"
    assert body["level"] == "info"


def _access(path: str, status: int) -> logging.LogRecord:
    """An access record as uvicorn makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", path, "1.1", status),
        None,
    )


def test_successful_health_checks_leave_no_access_line() -> None:
    """A load balancer's 200 /readyz and /healthz every 400 ms are dropped; failing checks and the rest are kept."""
    health = HealthCheckFilter()
    assert not health.filter(_access("/readyz", 200))
    assert not health.filter(_access("/healthz", 200))
    assert health.filter(_access("/readyz", 503))
    assert health.filter(_access("/readyz?verbose=1", 503))
    assert health.filter(_access("/api/v1/cases", 200))
    assert health.filter(_access("/readyz-not", 200))
    uvicorn_access = configure()["loggers"]["uvicorn.access"]
    assert uvicorn_access["filters"] == ["health_checks"]
    assert configure()["filters"]["health_checks"]["()"] is HealthCheckFilter
