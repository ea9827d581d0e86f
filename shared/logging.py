"""Readable logs in which a national ID number never appears whole."""

from __future__ import annotations

import logging
import os

from shared.certno import redact


class RedactIds(logging.Filter):
    """Mask every ID-shaped token in the rendered message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class RedactingFormatter(logging.Formatter):
    """Mask IDs in the whole rendered record, tracebacks included (SQL parameters, inputs)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(service: str, level: str | None = None) -> None:
    """Root logging for a service process: one line per record, IDs masked everywhere."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        RedactingFormatter(f"%(asctime)s %(levelname)-5s {service} %(name)s: %(message)s")
    )
    handler.addFilter(RedactIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("LOG_LEVEL", "INFO"))
    for noisy in ("aiokafka", "kafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
