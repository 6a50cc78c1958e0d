"""Exit codes every e2p command uses, so that scripts can trust them."""

from __future__ import annotations

from typing import Final

OK: Final = 0
# A step failed (deploy, teardown, replay) or the deployment is unhealthy (status, send-test-event).
FAILED: Final = 1
# Usage, config file or credentials: nothing was attempted. click uses 2 for usage errors too.
USAGE: Final = 2
