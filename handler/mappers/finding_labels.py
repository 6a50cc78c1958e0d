"""What the finding families share: severity labels on Panther's scale, the identifier rule,
the sample mark and the other-account suffix.

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


def finding_identifier(finding_key: str, severity: Severity) -> str | None:
    """`<finding id or ARN>:<severity>`: a finding's repeats aggregate on its id, while a severity
    change or its clear stays a separate alert (Panther keeps the first occurrence's severity)."""
    return f"{finding_key}:{int(severity)}" if finding_key else None


def other_account_suffix(finding_account: str, envelope_account: str) -> str:
    """` in account <id>` when a delegated administrator's view reports another account's finding."""
    return f" in account {finding_account}" if finding_account and finding_account != envelope_account else ""
