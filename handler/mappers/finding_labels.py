"""Severity labels of AWS finding services (Security Hub, Inspector, Macie) on Panther's scale.

One table so that a HIGH finding means the same Panther severity whichever service raised it:
INFORMATIONAL -> 1 indeterminate, LOW -> 2 warning, MEDIUM -> 3 minor, HIGH -> 4 major,
CRITICAL -> 5 critical.
"""

from __future__ import annotations

from typing import Final

from handler.severity import Severity

LABEL_SEVERITY: Final = {
    "INFORMATIONAL": Severity.INDETERMINATE,
    "UNTRIAGED": Severity.INDETERMINATE,
    "LOW": Severity.WARNING,
    "MEDIUM": Severity.MINOR,
    "HIGH": Severity.MAJOR,
    "CRITICAL": Severity.CRITICAL,
}


def severity_for_label(label: str) -> Severity | None:
    """The Panther severity of a label in any case ("High", "HIGH"); None for an unknown label."""
    return LABEL_SEVERITY.get(label.strip().upper())


def sample_prefix(is_sample: bool) -> str:
    """Sample findings (generated to test a pipeline) are marked as the AWS consoles mark them."""
    return "[SAMPLE] " if is_sample else ""
