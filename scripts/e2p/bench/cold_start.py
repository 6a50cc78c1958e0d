"""`cold_start_ms`: importing the handler and building its runtime, in fresh interpreters.

Each run is a new interpreter that times, from its first statement, `import handler.app` and
`build_runtime(load_settings())` with the environment the central template gives the function and
the function's own AWS session (fake credentials: building clients makes no call). Interpreter
start-up is not counted (Lambda's runtime bootstrap is not the function's code). One untimed run
first writes any missing bytecode (`__pycache__`, git-ignored), so the timed runs read bytecode as a
package shipped with it would (`e2p.packaging.lambda_package` ships it when an interpreter of the runtime's
version is at hand); how much compiling the shipped sources adds without it is `compile_ms`.

Not counted: what the first invocation does on top, on the network (the token read, the directory's
AssumeRole and Organizations listing with their two clients) and the dead-letter queue's SQS client,
made on the first dead letter only (docs/performance.md measures the first invocation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Final

from e2p.bench.target import import_path_env
from e2p.exceptions import E2PError
from handler import constants as env

PROBE_TIMEOUT_S: Final = 120.0
PROBE: Final = """
import time
started = time.perf_counter()
import handler.app
from handler.config import load_settings
from handler.runtime import build_runtime
runtime = build_runtime(load_settings())
print(round((time.perf_counter() - started) * 1000, 3))
"""
# The packages the Lambda zip carries (handler + RUNTIME_REQUIREMENTS and their dependencies, of
# this version or an earlier one); boto3, botocore and their own dependencies come with the runtime,
# with bytecode. Only those a cold start imports are compiled.
SHIPPED_PACKAGES: Final = (
    "handler",
    "requests",
    "urllib3",
    "charset_normalizer",
    "idna",
    "certifi",
    "aws_lambda_powertools",
    "jmespath",
    "typing_extensions",
)
COMPILE_PROBE: Final = """
import json, sys, time
import handler.app
from handler.config import load_settings
from handler.runtime import build_runtime
build_runtime(load_settings())
shipped = set(json.loads(sys.argv[1]))
total = 0.0
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None) or ""
    if name.split(".")[0] in shipped and path.endswith(".py"):
        with open(path, "rb") as handle:
            source = handle.read()
        started = time.perf_counter()
        compile(source, path, "exec", dont_inherit=True)
        total += time.perf_counter() - started
print(round(total * 1000, 3))
"""
FAKE_AWS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# What central/template.yaml sets with its defaults (IdempotencyEnabled "true": the table is set,
# DeliveryConcurrency 25); no value is ever contacted.
TEMPLATE_LIKE_ENV: Final = {
    env.PANTHER_URL: "https://console.invalid/api/event/create",
    env.TOKEN_SECRET_ID: "arn:aws:secretsmanager:us-east-1:000000000000:secret:e2p-bench",
    env.ALLOW_INSECURE_HTTP: "false",
    env.DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/e2p-bench-dlq",
    env.ORG_LOOKUP_ROLE_ARN: "arn:aws:iam::000000000000:role/e2p-bench-lookup",
    env.ACCOUNT_TAG_KEYS: "",
    env.IDEMPOTENCY_TABLE: "e2p-bench-idempotency",
    env.DELIVERY_CONCURRENCY: "25",
    env.DIRECTORY_SNAPSHOT: "s3://e2p-bench-directory/directory/accounts.json.gz",
    env.DIRECTORY_REFRESH_FUNCTION: "e2p-bench-scheduled",
    env.NODE_NAME: "name",
    # Empty: the template's default (no organisation mappings file); the built-in ones are compiled.
    env.MAPPINGS_URI: "",
    env.COVERAGE_TABLE: "e2p-bench-coverage",
    env.POWERTOOLS_SERVICE_NAME: "events2panther",
    env.POWERTOOLS_METRICS_NAMESPACE: "Events2Panther",
    env.LOG_LEVEL: "INFO",
}


# Removed from the probes' environment: bytecode is written and read where Python normally keeps it.
BYTECODE_VARIABLES: Final = ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


class ColdStartError(E2PError):
    """A probe interpreter failed: the handler does not import or build with the template's settings."""


def probe_environment() -> dict[str, str]:
    """This environment without AWS, handler or bytecode settings of its own, plus the template's
    variables and fake credentials."""
    environ = import_path_env()
    for name in list(environ):
        if name.startswith(("AWS_", "E2P_", "POWERTOOLS_")) or name in BYTECODE_VARIABLES:
            del environ[name]
    environ.update(FAKE_AWS)
    environ.update(TEMPLATE_LIKE_ENV)
    return environ


def _run(code: str, environ: Mapping[str, str], *args: str) -> float:
    completed = subprocess.run(  # noqa: S603 -- our own interpreter and code
        [sys.executable, "-c", code, *args],
        env=dict(environ),
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise ColdStartError(f"cold-start probe failed ({completed.returncode}): {completed.stderr[-500:]}")
    return float(lines[-1])


def cold_start_samples(runs: int) -> list[float]:
    """Milliseconds of import + runtime build, one per fresh interpreter, after one untimed run."""
    environ = probe_environment()
    _run(PROBE, environ)
    return [_run(PROBE, environ) for _ in range(runs)]


def compile_ms() -> float:
    """Milliseconds to compile the shipped modules a cold start imports: what it costs on top when
    the zip carries no bytecode (Lambda's code folder is read-only, so nothing is cached)."""
    return _run(COMPILE_PROBE, probe_environment(), json.dumps(SHIPPED_PACKAGES))
