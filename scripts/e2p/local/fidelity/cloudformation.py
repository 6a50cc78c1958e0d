"""CloudFormation made faithful where moto 5.2.5 accepts what AWS refuses or skips what AWS creates.

AWS behaviour restored, with the documentation fact each rests on (CloudFormation User Guide and
API Reference):
- Resource types moto skips are created for real (see `cfn_resources`): EventBusPolicy,
  QueuePolicy, SecretsManager::Secret, CloudWatch::Alarm, Lambda::EventInvokeConfig.
- A `!Ref` never silently becomes None: a resource type the local AWS cannot create fails the
  stack before anything is created (resource event CREATE_FAILED with the reason, then the
  default OnFailure=ROLLBACK ends in ROLLBACK_COMPLETE; with DisableRollback=true or
  OnFailure=DO_NOTHING the stack stays CREATE_FAILED), as any failed resource does on AWS. An
  error while creating a resource fails the stack the same way instead of failing the API call.
  UpdateStack and CreateChangeSet refuse such a template with a ValidationError (moto applies
  change sets without the stack's failure handling, so a failure there is an API error).
- Parameters are validated at CreateStack/UpdateStack/CreateChangeSet (ValidationError):
  AllowedValues ("must be one of AllowedValues"), AllowedPattern ("must match pattern ..."),
  MinLength/MaxLength, MinValue/MaxValue, Number values, and parameters that the template does
  not declare ("Parameters: [..] do not exist in the template").
- Capabilities: a template with IAM resources needs CAPABILITY_IAM, one with custom-named IAM
  resources CAPABILITY_NAMED_IAM, otherwise InsufficientCapabilitiesException
  ("Requires capabilities : [CAPABILITY_IAM]"); also for CreateStackSet/UpdateStackSet.
- `!Ref` of an EventBus is its name and of an Archive its name (see `events`); an Archive's
  EventPattern may be given as an object and its generated name fits the 48-character limit.
- AWS::DynamoDB::Table TimeToLiveSpecification is applied (moto ignored it).
- AWS::KMS::Key without KeyPolicy gets AWS's default key policy (moto failed on a missing key).
- A Lambda function's environment variables are strings, as the property's type (map of String to
  String) and the Lambda API require: `!Ref` of a Number parameter is a string in CloudFormation
  ("the parameter value becomes a string"), and a YAML number or boolean in the template becomes
  one too ("16", "true"). moto handed the function the int or bool as it parsed it.
- `!Ref AWS::NoValue` as an element of a list (typically `!If [Cond, {statement}, !Ref AWS::NoValue]`
  among a policy's statements) removes that element, as it removes a property ("AWS::NoValue
  removes the corresponding resource property when specified as a return value in the Fn::If
  intrinsic function"); moto left a null in the list, which IAM then refused as a malformed
  policy document, so a false condition broke the stack.
Checked and already right in moto, kept under test: Lambda EventSourceMapping ScalingConfig,
MaximumBatchingWindowInSeconds and FunctionResponseTypes; LogGroup RetentionInDays; IAM Role
inline Policies; KMS key rotation.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from e2p.local.fidelity import cfn_resources, patching, switch

IAM_RESOURCE_NAME_PROPERTIES: dict[str, str | None] = {
    "AWS::IAM::AccessKey": None,
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": None,
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::UserToGroupAddition": None,
}
CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
ON_FAILURE_ROLLBACK = "ROLLBACK"
ON_FAILURE_DO_NOTHING = "DO_NOTHING"

_request = threading.local()


def _errors() -> Any:
    from moto.cloudformation import exceptions

    return exceptions


def insufficient_capabilities(missing: str) -> Exception:
    errors = _errors()

    class InsufficientCapabilitiesException(errors.CloudFormationError):  # type: ignore[misc,name-defined]
        code = "InsufficientCapabilitiesException"

    return InsufficientCapabilitiesException(f"Requires capabilities : [{missing}]")


def parse_template(body: str | Mapping[str, Any]) -> dict[str, Any]:
    from moto.cloudformation.models import Stack

    if isinstance(body, Mapping):
        return dict(body)
    parsed = Stack.parse_template(body)
    return parsed if isinstance(parsed, dict) else {}


def required_capability(template: Mapping[str, Any]) -> str | None:
    """The strongest IAM capability the template needs, if any."""
    needed: str | None = None
    for resource in (template.get("Resources") or {}).values():
        rtype = resource.get("Type")
        if rtype not in IAM_RESOURCE_NAME_PROPERTIES:
            continue
        name_property = IAM_RESOURCE_NAME_PROPERTIES[rtype]
        if name_property and name_property in (resource.get("Properties") or {}):
            return CAPABILITY_NAMED_IAM
        needed = CAPABILITY_IAM
    return needed


def check_capabilities(template: Mapping[str, Any], capabilities: list[str]) -> None:
    needed = required_capability(template)
    if needed is None or CAPABILITY_NAMED_IAM in capabilities:
        return
    if needed == CAPABILITY_IAM and CAPABILITY_IAM in capabilities:
        return
    raise insufficient_capabilities(needed)


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise _errors().ValidationError(message=f"Parameter '{name}' must be a number.") from error


def _check_value(name: str, spec: Mapping[str, Any], value: str) -> None:
    invalid = _errors().ValidationError
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        raise invalid(message=f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        raise invalid(message=f"Parameter '{name}' must match pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise invalid(message=f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise invalid(message=f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")
    if spec.get("Type") == "Number" or "MinValue" in spec or "MaxValue" in spec:
        number = _number(name, value)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise invalid(message=f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise invalid(message=f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")


def validate_parameters(template: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """Raise ValidationError where AWS refuses the parameter values for this template."""
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise _errors().ValidationError(
            message=f"Parameters: [{', '.join(unknown)}] do not exist in the template"
        )
    for name, spec in declared.items():
        value = given.get(name, spec.get("Default"))
        if value is None:
            continue
        is_list = str(spec.get("Type", "String")).startswith(("List<", "CommaDelimitedList"))
        items = value if isinstance(value, list) else (str(value).split(",") if is_list else [str(value)])
        if is_list and items == [""]:
            continue
        for item in items:
            _check_value(name, spec, str(item).strip() if is_list else str(item))


def supported(resource_type: str) -> bool:
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return (
        resource_type in cfn_resources.REGISTRY
        or resource_type in get_model_map()
        or resource_type in NULL_MODELS
        or resource_type.startswith("Custom::")
    )


def unsupported_resources(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (logical, str(resource.get("Type")))
        for logical, resource in (template.get("Resources") or {}).items()
        if not supported(str(resource.get("Type")))
    ]


# --- stack failure ----------------------------------------------------------------------------


def _resource_event(stack: Any, logical: str, rtype: str, status: str, reason: str) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical,
            physical_resource_id="",
            resource_type=rtype,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _freeze(stack: Any) -> None:
    """Stop moto's lazy resource map from creating the rest later (describe/list would)."""
    from moto.cloudformation.parsing import OutputMap

    resource_map = stack.resource_map
    created = {
        k for k, v in resource_map._parsed_resources.items() if k in resource_map._resource_json_map and v
    }
    resource_map._resource_json_map = {
        k: v for k, v in resource_map._resource_json_map.items() if k in created
    }
    stack.output_map = OutputMap(resource_map, {"Outputs": {}}, stack.stack_id)


def fail_creation(stack: Any, reason: str, logical: str | None, rtype: str | None) -> None:
    if logical is not None:
        _resource_event(stack, logical, rtype or "", "CREATE_FAILED", reason)
    stack.status_reason = reason
    on_failure = getattr(_request, "on_failure", ON_FAILURE_ROLLBACK)
    if on_failure == ON_FAILURE_DO_NOTHING:
        _freeze(stack)
        stack.status = "CREATE_FAILED"
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=reason)
        return
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    _freeze(stack)
    try:
        stack.resource_map.delete()
    except Exception as error:  # noqa: BLE001 - a failed rollback is reported on the stack, as AWS does
        stack.status = "ROLLBACK_FAILED"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(error))
        return
    stack.resource_map._resource_json_map = {}
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _first_pending(stack: Any) -> tuple[str | None, str | None]:
    resource_map = stack.resource_map
    for logical, resource in resource_map._resource_json_map.items():
        if logical not in resource_map._parsed_resources:
            return logical, resource.get("Type")
    return None, None


def _create_resources(original: Any, stack: Any) -> None:
    missing = unsupported_resources(stack.template_dict)
    if missing:
        logical, rtype = missing[0]
        fail_creation(stack, f"Resource type {rtype} is not supported by the local AWS", logical, rtype)
        return
    try:
        original(stack)
    except Exception as error:  # noqa: BLE001 - AWS shows a failed resource on the stack, not an API error
        pending, pending_type = _first_pending(stack)
        fail_creation(stack, f"{type(error).__name__}: {error}", pending, pending_type)


def _stack_update(original: Any, stack: Any, template: str, *args: Any, **kwargs: Any) -> None:
    missing = unsupported_resources(parse_template(template))
    if missing:
        logical, rtype = missing[0]
        raise _errors().ValidationError(
            message=f"Template format error: {rtype} ({logical}) is not supported by the local AWS"
        )
    original(stack, template, *args, **kwargs)


# --- patched backend and response entry points --------------------------------------------------


def _backend_create_stack(
    original: Any, backend: Any, name: str, template: str, parameters: dict[str, Any], *a: Any, **k: Any
) -> Any:
    validate_parameters(parse_template(template), parameters or {})
    return original(backend, name, template, parameters, *a, **k)


def _backend_update_stack(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    backend: Any,
    name: str,
    template: str,
    role_arn: str | None,
    parameters: list[dict[str, Any]],
    tags: Any,
) -> Any:
    stack = backend.get_stack(name)
    resolved = backend._resolve_update_parameters(instance=stack, incoming_params=parameters)
    validate_parameters(parse_template(template or stack.template), resolved)
    return original(backend, name, template, role_arn, parameters, tags)


def _backend_create_change_set(original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
    template = parse_template(kwargs["template"])
    validate_parameters(template, kwargs.get("parameters") or {})
    missing = unsupported_resources(template)
    if missing:
        # AWS would fail the execution; moto's change sets would skip the resource silently.
        logical, rtype = missing[0]
        raise _errors().ValidationError(
            message=f"Template format error: {rtype} ({logical}) is not supported by the local AWS"
        )
    return original(backend, *args, **kwargs)


def template_of_request(response: Any) -> dict[str, Any] | None:
    body = response._get_param("TemplateBody")
    url = response._get_param("TemplateURL")
    if url:
        body = response._get_stack_from_s3_url(url)
    if not body and response._get_bool_param("UsePreviousTemplate", False):
        stack_name = response._get_param("StackName")
        if stack_name:
            body = response.cloudformation_backend.get_stack(stack_name).template
        else:
            body = response.cloudformation_backend.describe_stack_set(
                response._get_param("StackSetName")
            ).template
    return parse_template(body) if body else None


def _capabilities_checked(original: Any, response: Any) -> Any:
    template = template_of_request(response)
    if template is not None:
        check_capabilities(template, list(response._get_param("Capabilities", []) or []))
    return original(response)


def _create_stack_response(original: Any, response: Any) -> Any:
    template = template_of_request(response)
    if template is not None:
        check_capabilities(template, list(response._get_param("Capabilities", []) or []))
    on_failure = response._get_param("OnFailure") or ON_FAILURE_ROLLBACK
    if response._get_bool_param("DisableRollback", False):
        on_failure = ON_FAILURE_DO_NOTHING
    _request.on_failure = on_failure
    try:
        return original(response)
    finally:
        del _request.on_failure


def _table_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    table = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    ttl = cloudformation_json.get("Properties", {}).get("TimeToLiveSpecification")
    if ttl:
        dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
    return table


def _cloudformation_string(value: Any) -> Any:
    """A scalar as CloudFormation passes it to a String property ("true", not Python's "True")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _environment_as_strings(cloudformation_json: Any) -> None:
    variables = (cloudformation_json.get("Properties", {}).get("Environment") or {}).get("Variables")
    if isinstance(variables, dict):
        for name, value in variables.items():
            variables[name] = _cloudformation_string(value)


def _function_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    _environment_as_strings(cloudformation_json)
    return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)


def _function_updated_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    _environment_as_strings(cloudformation_json)
    return original(original_resource, new_resource_name, cloudformation_json, account_id, region_name)


def _key_from_cloudformation(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    cls: Any,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json.setdefault("Properties", {})
    if "KeyPolicy" not in properties:
        # KeyPolicy is optional on AWS: the default policy gives the account full access.
        properties["KeyPolicy"] = {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)


def _resource_class_from_type(original: Any, resource_type: str) -> Any:
    if resource_type in cfn_resources.REGISTRY:
        return cfn_resources.REGISTRY[resource_type]
    return original(resource_type)


def _resource_name_property(original: Any, resource_type: str) -> str | None:
    if resource_type in cfn_resources.NAME_PROPERTIES:
        return cfn_resources.NAME_PROPERTIES[resource_type]
    result: str | None = original(resource_type)
    return result


def _as_given(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, list) else value


def _describe_list_parameters_as_given(stack_class: Any) -> None:
    """DescribeStacks shows a CommaDelimitedList parameter as the string it was given ("a,b", ""),
    where moto shows the Python list ("['a', 'b']"): a client comparing what it asked for with
    what the stack has would see a change that is not there, and update for ever. NoEcho values
    are shown as "****" (moto compares the value, not the key, with the NoEcho keys)."""
    if patching.is_patched(stack_class, "stack_parameters"):
        return
    moto_values = stack_class.__dict__["stack_parameters"]
    moto_list = stack_class.__dict__["parameter_list"]

    def stack_parameters(stack: Any) -> dict[str, Any]:
        values: dict[str, Any] = moto_values.fget(stack)
        if not switch.active():
            return values
        return {k: _as_given(v) for k, v in values.items()}

    def parameter_list(stack: Any) -> list[dict[str, Any]]:
        if not switch.active():
            listed: list[dict[str, Any]] = moto_list.fget(stack)
            return listed
        hidden = set(stack.resource_map.no_echo_parameter_keys)
        return [
            {"ParameterKey": k, "ParameterValue": "****" if k in hidden else _as_given(v)}
            for k, v in stack.resource_map.resolved_parameters.items()
        ]

    patching.claim(stack_class, "stack_parameters")
    stack_class.stack_parameters = property(stack_parameters)
    stack_class.parameter_list = property(parameter_list)


def _clean_json(original: Any, resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, list):
        from moto.cloudformation import parsing

        # AWS::NoValue (moto resolves it to None) drops the element, as CloudFormation does.
        cleaned = (parsing.clean_json(item, resources_map) for item in resource_json)
        return [item for item in cleaned if item is not None]
    return original(resource_json, resources_map)


def _list_stack_resources(original: Any, backend: Any, stack_name_or_id: str) -> Any:
    # moto keeps a resource whose Condition is false as None in the stack's resource map and lists it as
    # an empty summary; CloudFormation does not create such a resource and does not list it.
    stack, resources = original(backend, stack_name_or_id)
    return stack, [resource for resource in resources if resource is not None]


def install() -> None:
    """Install the CloudFormation patches into this process (idempotent)."""
    from moto.awslambda.models import LambdaFunction
    from moto.cloudformation import models, parsing, responses
    from moto.dynamodb.models.table import Table
    from moto.kms.models import Key

    patching.replace(parsing, "resource_class_from_type", _resource_class_from_type)
    patching.replace(parsing, "clean_json", _clean_json)
    patching.replace(parsing, "resource_name_property_from_type", _resource_name_property)
    patching.replace(models.Stack, "create_resources", _create_resources)
    patching.replace(models.Stack, "update", _stack_update)
    patching.replace(models.CloudFormationBackend, "create_stack", _backend_create_stack)
    patching.replace(models.CloudFormationBackend, "list_stack_resources", _list_stack_resources)
    patching.replace(models.CloudFormationBackend, "update_stack", _backend_update_stack)
    patching.replace(models.CloudFormationBackend, "create_change_set", _backend_create_change_set)
    response = responses.CloudFormationResponse
    patching.replace(response, "create_stack", _create_stack_response)
    # CreateStackSet/UpdateStackSet check capabilities in `stacksets`, which wraps them anyway.
    for action in ("update_stack", "create_change_set"):
        patching.replace(response, action, _capabilities_checked)
    _describe_list_parameters_as_given(models.Stack)
    patching.replace(Table, "create_from_cloudformation_json", _table_from_cloudformation)
    patching.replace(Key, "create_from_cloudformation_json", _key_from_cloudformation)
    patching.replace(LambdaFunction, "create_from_cloudformation_json", _function_from_cloudformation)
    patching.replace(LambdaFunction, "update_from_cloudformation_json", _function_updated_from_cloudformation)
