"""Fidelity patches that make moto 5.2.5 behave like AWS where this product depends on it.

One module per service, each with an idempotent `install()` and a docstring listing the AWS
behaviour it restores. The moto server must run in this same process (ThreadedMotoServer does)
for them to apply. Importing moto's CloudFormation parser costs seconds (it loads every service
it can create), so the CloudFormation and StackSet patches can be installed separately, when
the first CloudFormation request arrives (`LocalAws` does that).
"""

from __future__ import annotations

import threading

_lock = threading.Lock()


def install_core() -> None:
    """Install the EventBridge, SQS, Lambda, DynamoDB, S3 and Secrets Manager patches (idempotent,
    thread-safe)."""
    from e2p.local.fidelity import account, awslambda, dynamodb, events, lambda_async, s3, secretsmanager, sqs

    with _lock:
        from e2p.local.fidelity import iam

        iam.install_signatures()
        account.install()
        dynamodb.install()
        events.install()
        awslambda.install()
        lambda_async.install()
        sqs.install()
        s3.install()
        secretsmanager.install()


def install_cloudformation() -> None:
    """Install the CloudFormation and StackSet patches (idempotent, thread-safe).

    StackSets only exist once CloudFormation has been used, so their Organizations hooks
    (auto-deployment on account creation and moves) can wait until then too.
    """
    from e2p.local.fidelity import cloudformation, iam, stacksets

    with _lock:
        cloudformation.install()
        stacksets.install()
        iam.install()


def install_all() -> None:
    """Install every fidelity patch into this process (idempotent, thread-safe)."""
    install_core()
    install_cloudformation()
