"""botocore's DEBUG bodies carry secrets: the SDK loggers are capped at INFO whatever the root level."""

from __future__ import annotations

import logging

import pytest

from handler.log_safety import SDK_LOGGERS, cap_sdk_debug_logging


@pytest.fixture
def sdk_levels():
    saved = {name: logging.getLogger(name).level for name in SDK_LOGGERS}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_debug_on_the_root_logger_does_not_reach_botocore(sdk_levels, caplog) -> None:
    logging.getLogger("botocore").setLevel(logging.NOTSET)
    cap_sdk_debug_logging()
    caplog.set_level(logging.DEBUG)  # after the cap, as an operator investigating would
    logging.getLogger("botocore.endpoint").debug("Response body: SecretString=the-token")
    assert "the-token" not in caplog.text
    logging.getLogger("botocore.credentials").info("Found credentials")
    assert "Found credentials" in caplog.text


def test_a_quieter_level_chosen_by_the_operator_is_kept(sdk_levels) -> None:
    logging.getLogger("boto3").setLevel(logging.WARNING)
    cap_sdk_debug_logging()
    assert logging.getLogger("boto3").level == logging.WARNING
