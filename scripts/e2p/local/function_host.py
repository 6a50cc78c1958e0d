"""Runs the deployed central function in this process, the way Lambda would run it.

Everything comes from what was deployed, not from the templates: the function's environment
variables and timeout (get_function_configuration), its execution role (the handler's AWS calls
use that role's credentials in the central account), and its SQS event source mapping's batch
size, batching window and maximum concurrency. Only the code is taken from this checkout instead
of the zip, which is the same code (`e2p deploy` packages it from here).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from e2p.local.event_source import LocalEventSourceMapping, MappingSettings
from e2p.local.function_logs import LogGroupShipper
from handler import app
from handler.config import load_settings
from handler.runtime import Runtime, build_runtime

# The visibility timeout is compressed so a retried record comes back in a second or two, not in
# 6 x the function timeout; everything else keeps Lambda's semantics.
VISIBILITY_TIME_SCALE = 0.005


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set process environment variables for the duration (the handler reads os.environ)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True, slots=True)
class DeployedFunction:
    name: str
    role_arn: str
    environment: Mapping[str, str]
    timeout_s: int
    memory_mb: int
    mapping: MappingSettings


def read_deployed_function(
    session: boto3.Session, endpoint_url: str, function_name: str, region: str
) -> DeployedFunction:
    lam = session.client("lambda", region_name=region, endpoint_url=endpoint_url)
    sqs = session.client("sqs", region_name=region, endpoint_url=endpoint_url)
    config = lam.get_function_configuration(FunctionName=function_name)
    mappings = lam.list_event_source_mappings(FunctionName=function_name)["EventSourceMappings"]
    if len(mappings) != 1:
        raise RuntimeError(f"{function_name} has {len(mappings)} event source mappings, expected 1")
    esm = mappings[0]
    queue_arn = esm["EventSourceArn"]
    queue_account, queue_name = queue_arn.split(":")[4], queue_arn.split(":")[5]
    queue_url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=queue_account)["QueueUrl"]
    visibility = int(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
    )
    return DeployedFunction(
        name=function_name,
        role_arn=config["Role"],
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        timeout_s=int(config.get("Timeout", 3)),
        memory_mb=int(config.get("MemorySize", 128)),
        mapping=MappingSettings(
            queue_url=queue_url,
            queue_arn=queue_arn,
            region=region,
            batch_size=int(esm.get("BatchSize", 10)),
            batching_window_s=float(esm.get("MaximumBatchingWindowInSeconds", 0)) * VISIBILITY_TIME_SCALE,
            max_concurrency=int((esm.get("ScalingConfig") or {}).get("MaximumConcurrency", 2)),
            visibility_timeout_s=visibility,
            function_name=function_name,
            function_timeout_s=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
        ),
    )


def assume_role_credentials(
    base: boto3.Session, endpoint_url: str, role_arn: str, region: str, session_name: str
) -> Mapping[str, Any]:
    """The local STS's temporary credentials for `role_arn` (AccessKeyId, SecretAccessKey, SessionToken)."""
    sts = base.client("sts", region_name=region, endpoint_url=endpoint_url)
    creds: Mapping[str, Any] = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return creds


def role_session(base: boto3.Session, endpoint_url: str, role_arn: str, region: str) -> boto3.Session:
    creds = assume_role_credentials(base, endpoint_url, role_arn, region, "events2panther-function")
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )


def _event_id(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    return str(parsed.get("id", "")) if isinstance(parsed, dict) else ""


class LocalFunction:
    """The deployed function with its runtime built once (a warm container), plus its poller."""

    def __init__(
        self, deployed: DeployedFunction, function_session: boto3.Session, endpoint_url: str
    ) -> None:
        self.deployed = deployed
        self._lock = threading.Lock()
        # event id -> the action of the handler's last decision about it ("ack", "retry", ...)
        self.outcomes: dict[str, str] = {}
        self.filtered: set[str] = set()
        # The handler's own clients find the local AWS through AWS_ENDPOINT_URL, which the caller
        # sets for the whole run (see `environment`).
        self.runtime: Runtime = build_runtime(load_settings(deployed.environment), function_session)
        self._sqs = function_session.client("sqs", endpoint_url=endpoint_url)
        # The function's log lines go to its log group, as Lambda sends them (`e2p verify` reads it).
        logs = function_session.client("logs", endpoint_url=endpoint_url, region_name=deployed.mapping.region)
        self._logs = LogGroupShipper(logs, f"/aws/lambda/{deployed.name}").attach()

    def close(self) -> None:
        """Stop shipping log lines (the loggers outlive this function in a test process)."""
        self._logs.ship()
        self._logs.detach()

    def invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            report = app.handle(event, context, self.runtime)
        finally:
            self._logs.ship()
        event_ids = {r["messageId"]: _event_id(r.get("body", "")) for r in event["Records"]}
        with self._lock:
            for message_id, decision in report.decisions:
                event_id = event_ids.get(message_id, "")
                self.outcomes[event_id] = decision.action.value
                if decision.reason.startswith("filtered:"):
                    self.filtered.add(event_id)
        return report.lambda_response()

    def event_source(self) -> LocalEventSourceMapping:
        return LocalEventSourceMapping(
            self._sqs, self.deployed.mapping, self.invoke, time_scale=VISIBILITY_TIME_SCALE
        )
