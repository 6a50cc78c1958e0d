"""Runs the deployed scheduled-work function in this process, the way Lambda would run it.

The local AWS cannot run Python functions (LOCAL-AWS.md), so a schedule rule's invocation of
`ScheduledFunction` is played here: the function's configuration is read from what was deployed
(environment variables, timeout, execution role), the role's credentials are obtained from the
local STS, and `handler.scheduled.app.lambda_handler` is called with the rule's constant input.

As in Lambda, the task sees its role's credentials and its region through the standard
environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
AWS_DEFAULT_REGION) beside the function's own variables, so the task code creates its clients
with the default credential chain exactly as it does when deployed. The process environment is
shared: invocations are serialised by a lock, and callers should not create default-chain
clients in other threads while a task runs (the demo runs tasks between its phases).

    host = ScheduledFunctionHost.from_deployment(central_session, endpoint, "fn-name", "eu-west-1")
    summary = host.invoke({"task": "watchdog"})
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from e2p.local.function_host import assume_role_credentials, environment

ROLE_SESSION_NAME = "events2panther-scheduled"


@dataclass(frozen=True, slots=True)
class DeployedScheduledFunction:
    name: str
    role_arn: str
    region: str
    environment: Mapping[str, str]
    timeout_s: int
    memory_mb: int


def read_deployed_scheduled_function(
    session: boto3.Session, endpoint_url: str, function_name: str, region: str
) -> DeployedScheduledFunction:
    lam = session.client("lambda", region_name=region, endpoint_url=endpoint_url)
    config = lam.get_function_configuration(FunctionName=function_name)
    return DeployedScheduledFunction(
        name=function_name,
        role_arn=config["Role"],
        region=region,
        environment=dict((config.get("Environment") or {}).get("Variables") or {}),
        timeout_s=int(config.get("Timeout", 3)),
        memory_mb=int(config.get("MemorySize", 128)),
    )


class ScheduledContext:
    """The parts of Lambda's context object a task may read."""

    def __init__(self, deployed: DeployedScheduledFunction) -> None:
        self.function_name = deployed.name
        self.memory_limit_in_mb = deployed.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{deployed.region}:000000000000:function:{deployed.name}"
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + deployed.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


class ScheduledFunctionHost:
    """One deployed scheduled function, invoked in-process with its role's credentials."""

    _lock = threading.Lock()  # class-wide: the process environment is one

    def __init__(self, deployed: DeployedScheduledFunction, base: boto3.Session, endpoint_url: str) -> None:
        self.deployed = deployed
        self._base = base
        self._endpoint = endpoint_url
        self.invocations: list[tuple[str, dict[str, Any]]] = []

    @classmethod
    def from_deployment(
        cls, session: boto3.Session, endpoint_url: str, function_name: str, region: str
    ) -> ScheduledFunctionHost:
        """`session`: credentials of the central account (the function's own account)."""
        deployed = read_deployed_scheduled_function(session, endpoint_url, function_name, region)
        return cls(deployed, session, endpoint_url)

    def _role_variables(self) -> dict[str, str]:
        creds = assume_role_credentials(
            self._base, self._endpoint, self.deployed.role_arn, self.deployed.region, ROLE_SESSION_NAME
        )
        return {
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
            "AWS_REGION": self.deployed.region,
            "AWS_DEFAULT_REGION": self.deployed.region,
            "AWS_LAMBDA_FUNCTION_NAME": self.deployed.name,
        }

    def invoke(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Run the handler once with `event` (a schedule rule's constant input); its summary."""
        from handler.scheduled import app

        variables = {**self.deployed.environment, **self._role_variables()}
        with self._lock, environment(variables):
            summary = app.lambda_handler(dict(event), ScheduledContext(self.deployed))
        self.invocations.append((str(event.get("task", "")), summary))
        return summary
