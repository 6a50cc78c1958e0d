"""Keeps secrets out of logs that a person turns up to DEBUG to investigate something else.

botocore logs every request and response body at DEBUG: GetSecretValue's answer and
PutSecretValue's request carry the Panther token. Capping the SDK's loggers at INFO costs nothing
(their INFO output is a line per credential lookup) and makes a DEBUG root logger safe.
"""

from __future__ import annotations

import logging
from typing import Final

# urllib3 is not capped: its DEBUG lines name the URL and status only, never headers or bodies.
SDK_LOGGERS: Final = ("botocore", "boto3")


def cap_sdk_debug_logging() -> None:
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        # The logger's own level, not the effective one: a root logger set to DEBUG later must not
        # reopen the tap. A level already above INFO (WARNING, say) is kept.
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
