"""Reading CloudFormation templates: parameters, their defaults, the Lambda runtime.

Templates are YAML with short-form intrinsic functions (!Ref, !GetAtt, !Sub ...), which a safe YAML
loader refuses; they are loaded here as plain mappings ({"Fn::GetAtt": ...}) so that two templates
can be compared as data and their parameters read without a CloudFormation call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from e2p.exceptions import TemplateError

FUNCTION_TYPES: Final = ("AWS::Lambda::Function", "AWS::Serverless::Function")
DEFAULT_RUNTIME: Final = "python3.12"
DEFAULT_ARCHITECTURE: Final = "arm64"


# libyaml's loader parses the central template about ten times faster than the pure-Python one.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _TemplateLoader(_SafeLoader):  # type: ignore[misc]
    """SafeLoader that turns `!Name value` into {"Fn::Name": value} (or {"Ref": value})."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(text: str, name: str = "template") -> Mapping[str, Any]:
    """The template as data. Cached by text (a deploy reads the same templates several times):
    treat the result as read-only."""
    document = _parse(text)
    if isinstance(document, yaml.YAMLError):
        raise TemplateError(f"{name} is not valid YAML/JSON: {document}") from document
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{name} is not a CloudFormation template (no Resources)")
    return document


@functools.lru_cache(maxsize=16)
def _parse(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass # nosec B506
    except yaml.YAMLError as exc:
        # Returned, not raised, so that lru_cache keeps the answer for a bad template too.
        return exc


def same_template(deployed: str | Mapping[str, Any], wanted: str) -> bool:
    """Compare as data, so formatting, comments and key order do not count as a change."""
    try:
        current = deployed if isinstance(deployed, Mapping) else load_template(deployed, "deployed template")
    except TemplateError:
        return False
    return dict(current) == load_template(wanted)


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    name: str
    default: str | None
    no_echo: bool
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str | None = None
    min_value: float | None = None
    max_value: float | None = None

    def problem(self, value: str) -> str | None:
        """Why CloudFormation would refuse `value` for this parameter, or None.

        Checked before any call: CloudFormation would refuse it only after minutes of work on the
        other stacks, and local backends do not check constraints at all.
        """
        if self.allowed_values and value not in self.allowed_values:
            return f"{value!r} is not one of {', '.join(self.allowed_values)}"
        if self.allowed_pattern is not None and not re.fullmatch(self.allowed_pattern, value):
            return f"{value!r} does not match {self.allowed_pattern}"
        if self.min_value is not None or self.max_value is not None:
            try:
                number = float(value)
            except ValueError:
                return f"{value!r} is not a number"
            if self.min_value is not None and number < self.min_value:
                return f"{value} is below the minimum {self.min_value:g}"
            if self.max_value is not None and number > self.max_value:
                return f"{value} is above the maximum {self.max_value:g}"
        return None


def _as_parameter_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def template_parameters(document: Mapping[str, Any]) -> dict[str, ParameterSpec]:
    specs: dict[str, ParameterSpec] = {}
    for name, declared in (document.get("Parameters") or {}).items():
        body = declared or {}
        default = body.get("Default")
        pattern = body.get("AllowedPattern")
        specs[name] = ParameterSpec(
            name=name,
            default=None if default is None else _as_parameter_value(default),
            no_echo=_as_parameter_value(body.get("NoEcho", False)) == "true",
            allowed_values=tuple(_as_parameter_value(v) for v in body.get("AllowedValues") or ()),
            allowed_pattern=pattern if isinstance(pattern, str) else None,
            min_value=_number(body.get("MinValue")),
            max_value=_number(body.get("MaxValue")),
        )
    return specs


def check_parameters(name: str, specs: Mapping[str, ParameterSpec], values: Mapping[str, str]) -> None:
    """Refuse values the template would refuse: undeclared, out of its constraints, or required and unset."""
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise TemplateError(f"{name} declares no parameter {', '.join(unknown)}")
    for key, value in values.items():
        problem = specs[key].problem(value)
        if problem is not None:
            raise TemplateError(f"{name} parameter {key}: {problem}")
    missing = sorted(p.name for p in specs.values() if p.default is None and p.name not in values)
    if missing:
        raise TemplateError(f"{name}: no value for the required parameter(s) {', '.join(missing)}")


def function_runtime(document: Mapping[str, Any]) -> tuple[str, str]:
    """(runtime, architecture) of the first Lambda function in the template, for packaging."""
    for resource in (document.get("Resources") or {}).values():
        if isinstance(resource, Mapping) and resource.get("Type") in FUNCTION_TYPES:
            properties = resource.get("Properties") or {}
            runtime = properties.get("Runtime")
            architectures = properties.get("Architectures") or [DEFAULT_ARCHITECTURE]
            return (
                runtime if isinstance(runtime, str) else DEFAULT_RUNTIME,
                architectures[0] if isinstance(architectures[0], str) else DEFAULT_ARCHITECTURE,
            )
    return DEFAULT_RUNTIME, DEFAULT_ARCHITECTURE


# IAM types CloudFormation counts for capabilities, with the property that gives one a custom name
# (CloudFormation User Guide, "Acknowledging IAM resources"): a named one needs CAPABILITY_NAMED_IAM.
IAM_NAME_PROPERTIES: Final = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}


def required_capabilities(document: Mapping[str, Any]) -> tuple[str, ...]:
    """The capabilities to acknowledge for this template, and no more: CAPABILITY_NAMED_IAM only
    when it names an IAM resource, CAPABILITY_IAM when it has unnamed ones, none otherwise."""
    needed: tuple[str, ...] = ()
    for resource in (document.get("Resources") or {}).values():
        if not isinstance(resource, Mapping) or resource.get("Type") not in IAM_NAME_PROPERTIES:
            continue
        name_property = IAM_NAME_PROPERTIES[str(resource.get("Type"))]
        if name_property and name_property in (resource.get("Properties") or {}):
            return ("CAPABILITY_NAMED_IAM",)
        needed = ("CAPABILITY_IAM",)
    return needed
