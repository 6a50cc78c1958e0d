"""Narrow exceptions of the operator CLI. Every one derives from E2PError.

The command modules turn them into exit codes: settings, credentials and project-layout errors are
the operator's to fix before anything runs (exit 2); the rest are per-step failures that are
collected, reported with their account and region, and give exit 1 at the end.
"""

from __future__ import annotations


class E2PError(Exception):
    """Base class of everything the CLI raises on purpose."""


class SettingsError(E2PError):
    """The config file is unusable. The message names the key and what is expected."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem


class CredentialsError(E2PError):
    """No usable AWS credentials, or a role could not be assumed before any work started."""


class ProjectLayoutError(E2PError):
    """A template, the handler package or the StackSet definition file cannot be found or read."""


class TemplateError(E2PError):
    """A CloudFormation template cannot be parsed, or lacks a parameter or output the CLI relies on."""


class PackagingError(E2PError):
    """The Lambda zip could not be built (pip failed, the handler package is missing...)."""


class CodeIntegrityError(E2PError):
    """The function's code bucket or deployed code is not what this CLI built and owns."""


class TokenWriteError(E2PError):
    """The token was written but its version did not become the secret's current one."""


class StackOperationError(E2PError):
    """A CloudFormation stack ended in a failed or rolled-back state. The message says which and why."""


class StackSetOperationError(E2PError):
    """A StackSet operation failed, was stopped, or left instances that are not current."""


class PollTimeoutError(E2PError):
    """Something AWS does asynchronously did not finish within the allowed time."""


class StackNotFoundError(E2PError):
    """A stack the command needs (the central stack, say) is not deployed where the settings say."""


class ReplayError(E2PError):
    """A dead-letter redrive or an archive replay could not be started or did not complete."""
