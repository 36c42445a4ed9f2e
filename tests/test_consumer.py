"""The Celery consumer's own behaviour: what it does with broker failures and bad messages."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from celery.worker.consumer import Consumer as CeleryConsumer

from worker.runtime.consumer import Consumer


def test_consumer_survives_a_failing_close_of_the_lost_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What kombu does when Redis vanishes while messages are reserved (fault scenario 5):
    # closing the dead connection raises AttributeError, which Celery calls unrecoverable.
    def close_fails(self: Any, exc: Exception) -> None:
        raise AttributeError("'NoneType' object has no attribute 'hostname'")

    monkeypatch.setattr(CeleryConsumer, "on_connection_error_after_connected", close_fails)
    consumer = Consumer.__new__(Consumer)
    with caplog.at_level(logging.WARNING, logger="worker.runtime.consumer"):
        consumer.on_connection_error_after_connected(
            ConnectionError("Connection closed by server.")
        )
    assert "could not close the lost broker connection" in caplog.text
