"""DynamoDB: conditional writes are atomic, as they are in AWS.

AWS behaviour restored (DynamoDB Developer Guide, "Condition expressions"): a PutItem,
UpdateItem or DeleteItem with a condition evaluates it and writes in one step, so of two writers
racing on `attribute_not_exists(id)` exactly one succeeds. moto 5.2.5 reads the item, evaluates
the condition in Python and then stores, without a lock: two threads of one process can both pass
the check. The handler's idempotency claims are such conditional puts, made from the delivery
threads of one invocation, so under moto the same message could be claimed, and sent, twice.

Unlike the other fidelity patches this one is not behind the fidelity switch: serialising the
writes changes no answer moto gives to a single caller, it only removes the interleaving that
AWS does not have, so the in-process `mock_aws` worlds of the tests and `e2p load` get it too.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from e2p.local.fidelity import patching

# Reentrant: moto's TransactWriteItems calls its own single-item writes.
_writes = threading.RLock()
_installing = threading.Lock()

WRITE_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items")


def _serialised(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def write(*args: Any, **kwargs: Any) -> Any:
        with _writes:
            return original(*args, **kwargs)

    return write


def install() -> None:
    """Serialise moto's DynamoDB writes (idempotent, thread-safe)."""
    from moto.dynamodb.models import DynamoDBBackend

    with _installing:
        for name in WRITE_OPERATIONS:
            if patching.is_patched(DynamoDBBackend, name):
                continue
            patching.claim(DynamoDBBackend, name)
            setattr(DynamoDBBackend, name, _serialised(patching.original(DynamoDBBackend, name)))
