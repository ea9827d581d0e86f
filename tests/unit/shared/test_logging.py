"""Logs never carry a whole ID number: messages, arguments and tracebacks are masked."""

from __future__ import annotations

import io
import logging

import pytest

from shared.logging import RedactIds, RedactingFormatter

pytestmark = pytest.mark.unit

CERTNO = "11010519491231002X"


def test_messages_arguments_and_tracebacks_are_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactIds())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("registering %s", CERTNO)
        try:
            raise ValueError(f"duplicate key certno={CERTNO}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert CERTNO not in text
    assert "110*************2X" in text
    assert "duplicate key certno=" in text  # the traceback is still there, masked
