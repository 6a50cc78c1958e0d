"""Every test runs with fake AWS credentials and no profile, so nothing can reach a real account.

Property tests (hypothesis) take their number of examples from a settings profile, chosen with the
HYPOTHESIS_PROFILE environment variable: "default" keeps CI fast, "thorough" digs deeper before a
release (`HYPOTHESIS_PROFILE=thorough pytest tests/unit/test_pipeline_properties.py`).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

HYPOTHESIS_PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
HYPOTHESIS_PROFILES = {"default": 300, "thorough": 5000}  # profile -> max_examples
hypothesis_settings.register_profile("default", max_examples=HYPOTHESIS_PROFILES["default"])
hypothesis_settings.register_profile("thorough", max_examples=HYPOTHESIS_PROFILES["thorough"])
hypothesis_settings.load_profile(os.environ.get(HYPOTHESIS_PROFILE_VARIABLE) or "default")

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
