"""Service-managed StackSets made faithful (CloudFormation User Guide, StackSets with
service-managed permissions; Organizations integration).

AWS behaviour restored:
- OU targets expand to every account in the OU and in all nested OUs at any depth; the
  management account is never deployed to, even when the root is targeted.
  AccountFilterType INTERSECTION/DIFFERENCE/UNION narrows or widens with `Accounts`.
- Instance parameters are the stack set's parameters overridden by the instance overrides.
- Each instance is a real stack in the member account and region, named
  `StackSet-<stack set name>-<uuid>`, visible there with DescribeStacks; its failures show in
  ListStackInstances (Status OUTDATED, DetailedStatus FAILED, StatusReason).
- AutoDeployment is stored (DescribeStackSet returns it) and honoured: an account created in or
  moved into a targeted OU gets instances in the regions deployed to that OU; an account moved
  out loses them unless RetainStacksOnAccountRemoval, in which case the stacks stay in the
  account but leave the stack set.
- UpdateStackSet updates the existing instances' stacks (all, or those in the given Regions).
- DeleteStackInstances with DeploymentTargets.OrganizationalUnitIds works (RetainStacks too) and
  stops auto-deployment to those OUs in those regions.
- CallAs=DELEGATED_ADMIN is accepted from an account registered as delegated administrator for
  member.org.stacksets.cloudformation.amazonaws.com and acts on the management account's stack
  sets; refused otherwise. A SERVICE_MANAGED stack set can be created only by the management
  account or a delegated administrator.
- CreateStackSet/UpdateStackSet check capabilities like CreateStack.
- Trusted access: a SERVICE_MANAGED stack set needs it ("You must enable organizations access to
  operate a service managed stack set"); DescribeOrganizationsAccess answers ENABLED/DISABLED and
  ActivateOrganizationsAccess (management account or delegated administrator) enables it, i.e.
  Organizations service access for member.org.stacksets.cloudformation.amazonaws.com.
Not modelled: operation preferences (everything runs at once), ManagedExecution, per-operation
result details.
"""

from __future__ import annotations

from typing import Any

from e2p.local.fidelity import cloudformation, organization, patching, switch

SERVICE_MANAGED = "SERVICE_MANAGED"
DELEGATED_ADMIN = "DELEGATED_ADMIN"
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
HEALTHY_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})


def _validation_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _management_backend(response: Any) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    caller = response.current_account
    org = organization.org_backend_of(caller)
    if org is None or not any(
        admin.account.id == caller and STACKSETS_PRINCIPAL in admin.services for admin in list(org.admins)
    ):
        raise _validation_error(
            f"Account {caller} is not registered as a delegated administrator for {STACKSETS_PRINCIPAL}"
        )
    return cloudformation_backends[org.org.master_account_id][response.region]


def _backend_property(original_fget: Any) -> property:
    def fget(response: Any) -> Any:
        if switch.active() and response._get_param("CallAs") == DELEGATED_ADMIN:
            return _management_backend(response)
        return original_fget(response)

    return property(fget)


def _overrides_dict(parameters: Any) -> dict[str, Any]:
    if isinstance(parameters, dict):
        return dict(parameters)
    return {p["ParameterKey"]: p["ParameterValue"] for p in parameters or [] if "ParameterValue" in p}


def _stackset_of(instances: Any) -> Any | None:
    return getattr(instances, "e2p_stackset", None)


def _targets(instances: Any) -> dict[str, set[str]]:
    if not hasattr(instances, "e2p_targets"):
        instances.e2p_targets = {}
    targets: dict[str, set[str]] = instances.e2p_targets
    return targets


def _new_instance(
    instances: Any, account: str, region: str, overrides: list[dict[str, Any]], ou: str | None
) -> Any:
    from moto.cloudformation.models import StackInstance

    stackset = _stackset_of(instances)
    base = dict(stackset.parameters) if stackset is not None else dict(instances.parameters)
    instance = StackInstance(
        account_id=account,
        region_name=region,
        stackset_id=instances.stackset_id,
        stack_name=instances.stack_name,
        name=instances.stackset_name,
        template=stackset.template if stackset is not None else instances.template,
        parameters={**base, **_overrides_dict(overrides)},  # type: ignore[arg-type]
        permission_model=SERVICE_MANAGED,
    )
    instance.parameters = list(overrides or [])
    instance.e2p_ou = ou  # type: ignore[attr-defined]
    instances.stack_instances.append(instance)
    return instance


def _filter_accounts(members: list[str], targets: dict[str, Any]) -> list[str]:
    listed = list(targets.get("Accounts") or [])
    kind = targets.get("AccountFilterType") or "NONE"
    if kind == "INTERSECTION":
        return [a for a in members if a in listed]
    if kind == "DIFFERENCE":
        return [a for a in members if a not in listed]
    if kind == "UNION":
        return members + [a for a in listed if a not in members]
    return members


def _create_instances(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    instances: Any,
    accounts: list[str],
    regions: list[str],
    parameters: Any,
    deployment_targets: dict[str, Any],
    permission_model: str,
) -> list[dict[str, Any]]:
    if permission_model != SERVICE_MANAGED:
        return list(original(instances, accounts, regions, parameters, deployment_targets, permission_model))
    org = instances.org_backend
    management = org.org.master_account_id if org.org is not None else instances.account_id
    ous = list(deployment_targets.get("OrganizationalUnitIds") or [])
    overrides = parameters if isinstance(parameters, list) else []
    created = []
    for ou in ous:
        _targets(instances).setdefault(ou, set()).update(regions)
        members = [a for a in organization.accounts_under(org, [ou]) if a != management]
        for account in _filter_accounts(members, deployment_targets):
            for region in regions:
                if instances.get_instance(account, region) is None:
                    created.append(_new_instance(instances, account, region, overrides, ou))
    return [i.to_dict() for i in created]


def _instance_init(  # noqa: PLR0917 - the signature of the moto function it replaces
    original: Any,
    instance: Any,
    account_id: str,
    region_name: str,
    stackset_id: str,
    stack_name: str,
    name: str,
    template: str,
    parameters: Any,
    permission_model: str,
) -> None:
    if permission_model != SERVICE_MANAGED:
        original(
            instance,
            account_id,
            region_name,
            stackset_id,
            stack_name,
            name,
            template,
            parameters,
            permission_model,
        )
        return
    from moto.cloudformation.models import cloudformation_backends
    from moto.moto_api._internal import mock_random

    instance.account_id = account_id
    instance.region_name = region_name
    instance.stackset_id = stackset_id
    instance.stack_name = stack_name
    instance.name = name
    instance.template = template
    instance.parameters = []
    instance.permission_model = permission_model
    instance.e2p_visible = True
    backend = cloudformation_backends[account_id][region_name]
    instance.stack = backend.create_stack(
        name=f"StackSet-{name}-{mock_random.uuid4()}",
        template=template,
        parameters=_overrides_dict(parameters),
    )


def _instance_delete(original: Any, instance: Any) -> None:
    if not getattr(instance, "e2p_visible", False):
        original(instance)
        return
    if getattr(instance, "e2p_retain", False):
        return
    from moto.cloudformation.models import cloudformation_backends

    cloudformation_backends[instance.account_id][instance.region_name].delete_stack(instance.stack.stack_id)


def _instance_to_dict(original: Any, instance: Any) -> dict[str, Any]:
    result: dict[str, Any] = original(instance)
    if not getattr(instance, "e2p_visible", False):
        return result
    stack = instance.stack
    result["StackId"] = stack.stack_id
    if getattr(instance, "e2p_ou", None):
        result["OrganizationalUnitId"] = instance.e2p_ou
    if stack.status not in HEALTHY_STATUSES:
        result["Status"] = "OUTDATED"
        result["StatusReason"] = getattr(stack, "status_reason", None) or stack.status
        result["StackInstanceStatus"] = {"DetailedStatus": "FAILED"}
    return result


def _stackset_update(original: Any, stackset: Any, *args: Any, **kwargs: Any) -> Any:
    operation = original(stackset, *args, **kwargs)
    regions = kwargs.get("regions") or []
    for instance in list(stackset.instances.stack_instances):
        if not getattr(instance, "e2p_visible", False) or (regions and instance.region_name not in regions):
            continue
        parameters = {**stackset.parameters, **_overrides_dict(instance.parameters)}
        instance.template = stackset.template
        instance.stack.update(stackset.template, parameters=parameters)
    return operation


# --- responses ------------------------------------------------------------------------------------


def trusted_access_enabled(account_id: str) -> bool:
    """Is trusted access for StackSets (the service principal's Organizations access) enabled?"""
    org = organization.org_backend_of(account_id)
    if org is None:
        return False
    return any(service.get("ServicePrincipal") == STACKSETS_PRINCIPAL for service in list(org.services))


def _require_trusted_access(response: Any) -> None:
    if not trusted_access_enabled(response.current_account):
        raise _validation_error(
            "You must enable organizations access to operate a service managed stack set "
            "(ActivateOrganizationsAccess, or `aws cloudformation activate-organizations-access`)."
        )


def _describe_organizations_access(response: Any) -> Any:
    from moto.core.responses import ActionResult

    enabled = trusted_access_enabled(response.current_account)
    return ActionResult({"Status": "ENABLED" if enabled else "DISABLED"})


def _activate_organizations_access(response: Any) -> Any:
    from moto.core.responses import ActionResult

    org = organization.org_backend_of(response.current_account)
    if org is None or (
        org.org.master_account_id != response.current_account
        and response._get_param("CallAs") != DELEGATED_ADMIN
    ):
        raise _validation_error("Only the management account (or a delegated administrator) can activate it.")
    if not trusted_access_enabled(response.current_account):
        org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
    return ActionResult({})


def _check_caller(response: Any) -> None:
    if response._get_param("PermissionModel") != SERVICE_MANAGED:
        return
    _require_trusted_access(response)
    if response._get_param("CallAs") == DELEGATED_ADMIN:
        return
    org = organization.org_backend_of(response.current_account)
    if org is None or org.org.master_account_id != response.current_account:
        raise _validation_error(
            "A SERVICE_MANAGED stack set can be created only by the organization's management account "
            "or with CallAs DELEGATED_ADMIN."
        )


def _create_stack_set(original: Any, response: Any) -> Any:
    template = cloudformation.template_of_request(response)
    if template is not None:
        cloudformation.check_capabilities(template, list(response._get_param("Capabilities", []) or []))
    _check_caller(response)
    result = original(response)
    stackset = response.cloudformation_backend.describe_stack_set(response._get_param("StackSetName"))
    stackset.instances.e2p_stackset = stackset
    stackset.capabilities = list(response._get_param("Capabilities", []) or [])
    if stackset.permission_model == SERVICE_MANAGED:
        auto = response._get_param("AutoDeployment") or {"Enabled": False}
        stackset.auto_deployment = {
            "Enabled": bool(auto.get("Enabled", False)),
            "RetainStacksOnAccountRemoval": bool(auto.get("RetainStacksOnAccountRemoval", False)),
        }
    return result


def _update_stack_set(original: Any, response: Any) -> Any:
    template = cloudformation.template_of_request(response)
    if template is not None:
        cloudformation.check_capabilities(template, list(response._get_param("Capabilities", []) or []))
    stackset = response.cloudformation_backend.describe_stack_set(response._get_param("StackSetName"))
    auto = response._get_param("AutoDeployment")
    if auto is not None and stackset.permission_model == SERVICE_MANAGED:
        stackset.auto_deployment = {
            "Enabled": bool(auto.get("Enabled", False)),
            "RetainStacksOnAccountRemoval": bool(auto.get("RetainStacksOnAccountRemoval", False)),
        }
    return original(response)


def _delete_stack_instances(original: Any, response: Any) -> Any:
    targets = response._get_params().get("DeploymentTargets") or {}
    ous = list(targets.get("OrganizationalUnitIds") or [])
    if not ous:
        return original(response)
    from moto.core.responses import ActionResult

    stackset = response.cloudformation_backend.describe_stack_set(response._get_param("StackSetName"))
    regions = list(response._get_param("Regions", []) or [])
    org = stackset.instances.org_backend
    accounts = _filter_accounts(organization.accounts_under(org, ous), targets)
    for ou in ous:
        remaining = _targets(stackset.instances).get(ou, set()) - set(regions)
        _targets(stackset.instances).pop(ou, None)
        if remaining:
            _targets(stackset.instances)[ou] = remaining
    retain = response._get_bool_param("RetainStacks", False)
    for instance in list(stackset.instances.stack_instances):
        if instance.account_id in accounts and instance.region_name in regions:
            instance.e2p_retain = retain
    stackset.delete_stack_instances(accounts, regions)
    return ActionResult({"OperationId": stackset.operations[-1]["OperationId"]})


# --- auto-deployment --------------------------------------------------------------------------------


def reconcile_account(org: Any, account_id: str) -> None:
    """Bring `account_id`'s instances in line with the auto-deploying stack sets that target it."""
    from moto.cloudformation.models import cloudformation_backends

    if org.org is None:
        return
    management = org.org.master_account_id
    for backend in list(dict.values(cloudformation_backends[management])):
        for stackset in list(backend.stacksets.values()):
            auto = getattr(stackset, "auto_deployment", None) or {}
            if (
                stackset.permission_model != SERVICE_MANAGED
                or stackset.status != "ACTIVE"
                or not auto.get("Enabled")
            ):
                continue
            instances = stackset.instances
            wanted: dict[str, str] = {}
            if account_id != management and any(a.id == account_id for a in list(org.accounts)):
                for ou, regions in _targets(instances).items():
                    if organization.account_is_under(org, account_id, ou):
                        wanted.update({region: ou for region in regions})
            present = [i for i in list(instances.stack_instances) if i.account_id == account_id]
            for region, ou in wanted.items():
                if all(i.region_name != region for i in present):
                    _new_instance(instances, account_id, region, [], ou)
            for instance in present:
                if instance.region_name in wanted:
                    continue
                instance.e2p_retain = bool(auto.get("RetainStacksOnAccountRemoval"))  # type: ignore[attr-defined]
                instance.delete()
                instances.stack_instances.remove(instance)


def _after_create_account(original: Any, org: Any, **kwargs: Any) -> Any:
    status = original(org, **kwargs)
    reconcile_account(org, status["CreateAccountStatus"]["AccountId"])
    return status


def _after_move_account(original: Any, org: Any, **kwargs: Any) -> None:
    original(org, **kwargs)
    reconcile_account(org, kwargs["AccountId"])


def _supported_service(original: Any, service_principal: str) -> bool:
    return service_principal == STACKSETS_PRINCIPAL or bool(original(service_principal))


def install() -> None:
    """Install the StackSet patches into this process (idempotent)."""
    from moto.cloudformation import models, responses
    from moto.organizations.models import FakeDelegatedAdministrator, OrganizationsBackend

    response = responses.CloudFormationResponse
    if not patching.is_patched(response, "cloudformation_backend"):
        patching.claim(response, "cloudformation_backend")
        response.cloudformation_backend = _backend_property(response.__dict__["cloudformation_backend"].fget)  # type: ignore[method-assign,assignment]
    patching.replace(response, "create_stack_set", _create_stack_set)
    patching.add_method(response, "describe_organizations_access", _describe_organizations_access)
    patching.add_method(response, "activate_organizations_access", _activate_organizations_access)
    patching.replace(response, "update_stack_set", _update_stack_set)
    patching.replace(response, "delete_stack_instances", _delete_stack_instances)
    patching.replace(models.StackInstances, "create_instances", _create_instances)
    patching.replace(models.StackInstance, "__init__", _instance_init)
    patching.replace(models.StackInstance, "delete", _instance_delete)
    patching.replace(models.StackInstance, "to_dict", _instance_to_dict)
    patching.replace(models.StackSet, "update", _stackset_update)
    patching.replace(OrganizationsBackend, "create_account", _after_create_account)
    patching.replace(OrganizationsBackend, "move_account", _after_move_account)
    patching.replace(FakeDelegatedAdministrator, "supported_service", _supported_service)
