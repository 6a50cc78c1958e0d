"""Config validation, credentials and the entry points: clear one-line errors and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_org import FAKE_ENV, REPO
from click.testing import CliRunner

from e2p.aws.cfn_template import check_parameters, load_template, template_parameters
from e2p.aws.stack_parameters import central_parameters
from e2p.cli import main
from e2p.config.settings import load_settings

pytestmark = pytest.mark.functional

CENTRAL = "222222222222"
VALID = textwrap.dedent(
    f"""
    [organization]
    management_account_id = "111111111111"
    organization_id = "o-a1b2c3d4e5"

    [central]
    account_id = "{CENTRAL}"
    region = "eu-west-1"
    panther_url = "https://panther.example.com/api/event/create"

    [stackset]
    organizational_units = ["ou-ab12-cdef3456"]
    regions = ["eu-west-1", "us-east-1"]
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "e2p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        main,
        list(args),
        env={**FAKE_ENV, "E2P_PROJECT_ROOT": str(REPO), **(env or {})},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def test_the_example_config_is_valid_and_fits_the_central_template() -> None:
    settings = load_settings(REPO / "e2p.example.toml")
    assert settings.warnings() == []
    # Every value the example gives must be one the central template accepts (moto does not check).
    values = central_parameters(
        settings,
        settings.organization.organization_id or "",
        settings.organization.management_account_id or "",
        "events2panther-code-bucket",
        "lambda/abc.zip",
    )
    template = (REPO / "central" / "template.yaml").read_text(encoding="utf-8")
    check_parameters("central/template.yaml", template_parameters(load_template(template)), values)
    assert values["FunctionTimeout"] == "60"


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("[central]", '[central]\ncolour = "blue"'), "central.colour", "unknown key"),
        ((f'account_id = "{CENTRAL}"', 'account_id = "2222"'), "central.account_id", "12-digit"),
        ((f'account_id = "{CENTRAL}"', f"account_id = {CENTRAL}"), "central.account_id", "quoted string"),
        (("https://panther", "http://panther"), "central.panther_url", "http://"),
        (("/api/event/create", "/events"), "central.panther_url", "/api/event/create"),
        (('"ou-ab12-cdef3456"', '"ou-nope"'), "stackset.organizational_units[0]", "OU id"),
        (('"eu-west-1", "us-east-1"]', '"europe"]'), "stackset.regions[0]", "region"),
        (('"o-a1b2c3d4e5"', '"org-1"'), "organization.organization_id", "o-"),
        (
            ("[stackset]", "[stackset]\nfailure_tolerance_percentage = 150"),
            "stackset.failure_tolerance_percentage",
            "0 to 100",
        ),
        (("[stackset]", '[stackset]\ncall_as = "ADMIN"'), "stackset.call_as", "DELEGATED_ADMIN"),
        (("[organization]", "[organisation]"), "[organisation]", "unknown section"),
        (
            ("[central]", "[central.lambda]\nreserved_concurrency = 5\nmaximum_concurrency = 20\n[central]"),
            "central.lambda.reserved_concurrency",
            "at least",
        ),
        (
            (
                "[central]",
                "[central.lambda]\nbatch_size = 50\nmaximum_batching_window_seconds = 0\n[central]",
            ),
            "central.lambda.maximum_batching_window_seconds",
            "at least 1",
        ),
        (
            ("[central]", "[central.lambda]\nmaximum_batching_window_seconds = 0\n[central]"),
            "central.lambda.maximum_batching_window_seconds",
            "template default",
        ),
        (
            ("[central]", "[central.lambda]\nlog_retention_days = 8\n[central]"),
            "central.lambda.log_retention_days",
            "only",
        ),
    ],
)
def test_a_bad_config_names_the_key_and_exits_2(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    assert change[0] in VALID
    config = write(tmp_path, VALID.replace(change[0], change[1], 1))
    code, stdout, stderr = run("status", "--config", str(config))
    assert code == 2
    assert key in stderr
    assert problem in stderr
    assert "Traceback" not in stderr + stdout
    assert len(stderr.strip().splitlines()) == 1


def test_a_missing_section_and_a_missing_file_exit_2(tmp_path: Path) -> None:
    config = write(tmp_path, VALID.split("[stackset]")[0])
    code, _, stderr = run("deploy", "--yes", "--config", str(config))
    assert (code, "[stackset]" in stderr) == (2, True)
    code, _, stderr = run("status", "--config", str(tmp_path / "absent.toml"))
    assert (code, "not found" in stderr) == (2, True)


def test_small_batches_without_a_window_and_no_reservation_are_accepted(tmp_path: Path) -> None:
    text = VALID.replace(
        "[central]",
        "[central.lambda]\nbatch_size = 10\nmaximum_batching_window_seconds = 0\n"
        "reserved_concurrency = 0\n[central]",
        1,
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.central.function_parameters["MaximumBatchingWindowInSeconds"] == "0"
    assert settings.central.function_parameters["ReservedConcurrency"] == "0"


def test_alarm_notifications_and_member_dlq_alarm_reach_the_templates(tmp_path: Path) -> None:
    from e2p.aws.stack_parameters import member_parameters

    text = (
        VALID.replace(
            'panther_url = "https://panther.example.com/api/event/create"',
            'panther_url = "https://panther.example.com/api/event/create"\n'
            'alarm_email = "oncall@example.com"\n'
            'alarm_topic_arn = "arn:aws:sns:eu-west-1:222222222222:alerts"',
        )
        + "\n[member]\ndead_letter_alarm = true\n"
    )
    settings = load_settings(write(tmp_path, text))
    values = central_parameters(settings, "o-a1b2c3d4e5", "111111111111", "bucket", "key.zip")
    assert (values["AlarmEmail"], values["AlarmTopicArn"]) == (
        "oncall@example.com",
        "arn:aws:sns:eu-west-1:222222222222:alerts",
    )
    # Each value is one the central template accepts (its AllowedPattern).
    template = (REPO / "central" / "template.yaml").read_text(encoding="utf-8")
    check_parameters("central/template.yaml", template_parameters(load_template(template)), values)
    assert (
        member_parameters(settings, "arn:aws:events:eu-west-1:222222222222:event-bus/b")["DeadLetterAlarm"]
        == "true"
    )
    # Off by default: no parameter, the template's "false".
    default = load_settings(write(tmp_path, VALID))
    assert "DeadLetterAlarm" not in member_parameters(
        default, "arn:aws:events:eu-west-1:222222222222:event-bus/b"
    )
    assert "AlarmEmail" not in central_parameters(
        default, "o-a1b2c3d4e5", "111111111111", "bucket", "key.zip"
    )


def test_a_bad_alarm_email_names_the_key(tmp_path: Path) -> None:
    text = VALID.replace("[stackset]", 'alarm_email = "not an address"\n\n[stackset]')
    code, _, stderr = run("status", "--config", str(write(tmp_path, text)))
    assert code == 2
    assert "central.alarm_email" in stderr


def test_http_is_accepted_only_when_explicitly_allowed(tmp_path: Path) -> None:
    text = VALID.replace("https://panther", "http://panther").replace(
        "[central]", "[central]\nallow_insecure_http = true"
    )
    settings = load_settings(write(tmp_path, text))
    assert settings.central.panther_url.startswith("http://")


def test_us_east_1_is_added_with_a_warning(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID.replace('["eu-west-1", "us-east-1"]', '["eu-west-1"]')))
    assert settings.stackset.regions == ("eu-west-1", "us-east-1")
    assert settings.management.regions == ("eu-west-1", "us-east-1")
    assert any("us-east-1" in warning for warning in settings.warnings())


def test_an_event_pattern_over_2048_characters_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pattern.json").write_text('{"source": [' + ",".join(['"aws.x"'] * 500) + "]}")
    text = VALID + '\n[member]\nevent_pattern_file = "pattern.json"\n'
    code, _, stderr = run("status", "--config", str(write(tmp_path, text)))
    assert code == 2
    assert "member.event_pattern_file" in stderr
    assert "2048" in stderr


def test_no_credentials_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    config = write(tmp_path, VALID)
    env: dict[str, str | None] = {
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_WEB_IDENTITY_TOKEN_FILE": None,
    }
    code, stdout, stderr = run("status", "--config", str(config), env=env)
    assert code == 2
    assert "no AWS credentials" in stderr
    assert "Traceback" not in stdout + stderr


def test_an_unknown_profile_exits_2(tmp_path: Path) -> None:
    code, _, stderr = run(
        "status",
        "--config",
        str(write(tmp_path, VALID)),
        "--profile",
        "nope",
        env={"AWS_CONFIG_FILE": "/nonexistent"},
    )
    assert code == 2
    assert "'nope'" in stderr


def _subprocess_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "E2P_"))}
    env.update(
        {"PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "scripts")]), "E2P_PROJECT_ROOT": str(REPO)}
    )
    env.update(overrides)
    return env


def test_python_m_e2p_lists_the_commands() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "e2p", "--help"],
        capture_output=True,
        text=True,
        env=_subprocess_env(),
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    for command in ("deploy", "status", "send-test-event", "replay", "teardown", "map"):
        assert command in completed.stdout


def test_python_m_e2p_without_credentials_exits_2_without_a_traceback(tmp_path: Path) -> None:
    config = write(tmp_path, VALID)
    env = _subprocess_env(
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    completed = subprocess.run(
        [sys.executable, "-m", "e2p", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().count("\n") == 0, completed.stderr
    assert "credentials" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_misspelt_required_key_is_reported_as_unknown_with_the_key_it_resembles(tmp_path: Path) -> None:
    # GIVEN panther_url misspelt (so the required key is missing too) and another unknown key
    text = VALID.replace("panther_url", "panter_url").replace("[central]", '[central]\ncolour = "blue"')
    config = write(tmp_path, text)
    # WHEN any command reads it
    code, stdout, stderr = run("status", "--config", str(config))
    # THEN both unknown keys are named, the misspelt one with its suggestion, then the missing key
    assert code == 2
    assert stdout == ""
    message = " ".join(stderr.split())
    assert "unknown key panter_url; did you mean panther_url?" in message
    assert "unknown key colour" in message
    assert "did you mean" not in message.split("unknown key colour")[1].split(";")[0]
    assert "central.panther_url is required" in message


def test_a_missing_required_key_alone_is_still_reported(tmp_path: Path) -> None:
    config = write(tmp_path, VALID.replace('region = "eu-west-1"\n', "", 1))
    code, _stdout, stderr = run("status", "--config", str(config))
    assert code == 2
    assert "central.region: is required" in " ".join(stderr.split())


def test_a_misspelt_section_gets_a_suggestion(tmp_path: Path) -> None:
    config = write(tmp_path, VALID.replace("[stackset]", "[stacksets]"))
    code, _stdout, stderr = run("status", "--config", str(config))
    assert code == 2
    assert "did you mean stackset?" in " ".join(stderr.split())


@pytest.mark.parametrize(
    "command",
    [
        ("deploy", "--yes"),
        ("preflight",),
        ("verify",),
        ("status",),
        ("teardown", "--yes"),
        ("demo",),
        ("load", "--events", "10"),
        ("bench", "--events", "10"),
    ],
)
def test_a_missing_project_is_the_same_usage_error_in_every_command(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # GIVEN E2P_PROJECT_ROOT pointing at a folder without the templates
    config = write(tmp_path, VALID)
    options = ("--config", str(config)) if command[0] not in {"demo", "load", "bench"} else ()
    # WHEN any command starts
    code, stdout, stderr = run(*command, *options, env={"E2P_PROJECT_ROOT": str(tmp_path)})
    # THEN one line says so, exit 2, nothing attempted, no traceback
    assert code == 2, (command, stderr)
    assert "central/template.yaml" in stderr
    assert stdout == ""
    assert "Traceback" not in stderr
