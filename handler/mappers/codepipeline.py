"""AWS CodePipeline execution state changes: pipeline, stage and action (aws.codepipeline).

FAILED -> MINOR and SUCCEEDED -> CLEAR, both with the problem's summary ("CodePipeline P failed",
"CodePipeline P stage S failed", "CodePipeline P action S/A failed") so the next success clears the
failure; STOPPED, CANCELED, ABANDONED -> WARNING; STARTED, RESUMED, SUPERSEDED, STOPPING ->
INDETERMINATE, each with its own summary. Node resource: the pipeline. Identifier: Panther's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from handler.alert import Alert, Filtered
from handler.envelope import Envelope
from handler.mappers import json_values as jv
from handler.mappers.registry import mapper
from handler.mappers.stable_text import stable
from handler.severity import Severity

TAG: Final = "CodePipeline"
SOURCE: Final = "aws.codepipeline"
PIPELINE: Final = "CodePipeline Pipeline Execution State Change"
STAGE: Final = "CodePipeline Stage Execution State Change"
ACTION: Final = "CodePipeline Action Execution State Change"
FAILED: Final = "FAILED"
SUCCEEDED: Final = "SUCCEEDED"
HALTED: Final = frozenset({"STOPPED", "CANCELED", "ABANDONED"})


@mapper(SOURCE, PIPELINE, STAGE, ACTION)
def execution_state_change(envelope: Envelope) -> Sequence[Alert] | Filtered:
    pipeline = envelope.text("pipeline") or "(unknown pipeline)"
    stage = envelope.text("stage")
    action = envelope.text("action")
    state = envelope.text("state").upper()
    if envelope.detail_type == ACTION:
        subject = f"CodePipeline {pipeline} action {stage}/{action}"
    elif envelope.detail_type == STAGE:
        subject = f"CodePipeline {pipeline} stage {stage}"
    else:
        subject = f"CodePipeline {pipeline}"

    if state in {FAILED, SUCCEEDED}:
        summary = f"{subject} failed"
        severity = Severity.MINOR if state == FAILED else Severity.CLEAR
    else:
        summary = f"{subject} {state.lower() or 'changed state'}"
        severity = Severity.WARNING if state in HALTED else Severity.INDETERMINATE
    return [
        Alert(
            summary=stable(summary),
            severity=severity,
            tag=TAG,
            resource=envelope.text("pipeline"),
            resource_arn=envelope.resources[0] if envelope.resources else "",
            fields=jv.present(
                {
                    "pipeline_state": state,
                    "stage": stage,
                    "action_name": action,
                    "execution_id": envelope.text("execution-id"),
                    "error_code": envelope.text("execution-result", "error-code"),
                    "execution_summary": envelope.text("execution-result", "external-execution-summary"),
                    "provider": envelope.text("type", "provider"),
                }
            ),
        )
    ]
