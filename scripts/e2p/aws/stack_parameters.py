"""Template parameter values computed from the config and earlier stacks' outputs (pure)."""

from __future__ import annotations

from e2p.config.settings import Settings


def central_parameters(
    settings: Settings,
    organization_id: str,
    management_account_id: str,
    code_bucket: str,
    code_key: str,
    *,
    code_version: str = "",
    operator_arns: tuple[str, ...] = (),
    mappings_key: str = "",
) -> dict[str, str]:
    """`mappings_key`: the organisation's mappings object in the code bucket; "" deploys the
    built-in mappings only (the deploy says what the function uses: no --mappings, no file)."""
    central = settings.central
    values = {
        "OrganizationId": organization_id,
        "ManagementAccountId": management_account_id,
        "LookupRoleName": settings.management.lookup_role_name,
        "PantherUrl": central.panther_url,
        "AllowInsecureHttp": str(central.allow_insecure_http).lower(),
        "CodeBucket": code_bucket,
        "CodeKey": code_key,
        "CodeObjectVersion": code_version,
        "OperatorRoleArns": ",".join(operator_arns),
        "MappingsKey": mappings_key,
        "AccountTagKeys": ",".join(central.account_tag_keys),
        "AllowedOrgPaths": ",".join(central.allowed_org_paths),
    }
    if central.event_bus_name:
        values["EventBusName"] = central.event_bus_name
    if central.alarm_email:
        values["AlarmEmail"] = central.alarm_email
    if central.alarm_topic_arn:
        values["AlarmTopicArn"] = central.alarm_topic_arn
    values.update(coverage_parameters(settings))
    values.update(central.function_parameters)
    return values


def lookup_role_parameters(
    settings: Settings, function_role_arn: str, refresher_role_arn: str = ""
) -> dict[str, str]:
    values = {
        "CentralFunctionRoleArn": function_role_arn,
        "LookupRoleName": settings.management.lookup_role_name,
    }
    if refresher_role_arn:  # the scheduled directory refresh (central output ScheduledFunctionRoleArn)
        values["DirectoryRefresherRoleArn"] = refresher_role_arn
    return values


def coverage_parameters(settings: Settings) -> dict[str, str]:
    """What the coverage watchdog must know of the deployment: which OUs x regions the StackSet targets
    and which regions the management account's own member stacks cover."""
    management = settings.management
    values = {
        "CoverageUnits": ",".join(settings.stackset.organizational_units),
        "CoverageRegions": ",".join(settings.stackset.regions),
        "ManagementRegions": ",".join(management.regions) if management.deploy_member_stacks else "",
    }
    if settings.stackset.name:
        values["MemberStackSetName"] = settings.stackset.name
    if settings.member.heartbeat_minutes is not None:
        values["HeartbeatMinutes"] = str(settings.member.heartbeat_minutes)
    return values


def member_parameters(
    settings: Settings, central_bus_arn: str, *, alias_reader_arn: str = "", alias_role_name: str = ""
) -> dict[str, str]:
    values = {"CentralEventBusArn": central_bus_arn, "RuleState": settings.member.rule_state}
    if settings.member.heartbeat_minutes is not None:  # the central stack gets the same value
        values["HeartbeatMinutes"] = str(settings.member.heartbeat_minutes)
    if settings.member.dead_letter_alarm:
        values["DeadLetterAlarm"] = "true"
    # The alias-reader role (once per account) trusts the central directory refresh only.
    if alias_reader_arn:
        values["AliasReaderPrincipalArn"] = alias_reader_arn
    if alias_role_name:
        values["AliasRoleName"] = alias_role_name
    if settings.member.event_pattern is not None:
        values["EventPattern"] = settings.member.event_pattern
    return values
