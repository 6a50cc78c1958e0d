"""CloudFormation resource types moto 5.2.5 silently skips, backed by real moto objects.

Each class creates, updates and deletes the real thing in the service's moto backend, so a
`!Ref`/`!GetAtt` to it resolves to what AWS returns (CloudFormation User Guide, each type's
"Return values" section):
- AWS::Events::EventBusPolicy: puts the statement on the bus policy (Ref: the statement id).
- AWS::SQS::QueuePolicy: sets the Policy attribute of every listed queue (Ref: an id).
- AWS::SecretsManager::Secret: creates the secret (Ref and GetAtt Id: the ARN); SecretString,
  minimal GenerateSecretString (length, exclusions, template + key), KmsKeyId, Description, Tags.
- AWS::CloudWatch::Alarm: put_metric_alarm (Ref: the alarm name; GetAtt Arn).
- AWS::Lambda::EventInvokeConfig: the function's event invoke config (Ref: an id).
- AWS::Scheduler::Schedule: the schedule in moto's scheduler backend (Ref: the name; GetAtt Arn);
  moto has the API but no CloudFormation type, and never fires a schedule (e2p.local.schedules does).

The classes derive from `FidelityResource`, not directly from moto's CloudFormationModel, so
moto's own type registry (direct subclasses) never lists them: a plain server keeps skipping these
types, and the faithful one finds them through `REGISTRY`.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from moto.core.common_models import CloudFormationModel
from moto.moto_api._internal import mock_random

SECRET_DEFAULT_LENGTH = 32


def _unsupported_attribute() -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    return UnformattedGetAttTemplateException()


class FidelityResource(CloudFormationModel):
    """Base of the resource types added by the local AWS."""

    attributes: ClassVar[dict[str, str]] = {}  # GetAtt name -> instance attribute

    def __init__(self, physical_id: str, account_id: str, region_name: str, properties: dict[str, Any]):
        self._physical_id = physical_id
        self.account_id = account_id
        self.region_name = region_name
        self.properties = properties

    @staticmethod
    def cloudformation_type() -> str:
        return "E2P::Local::FidelityResource"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    def is_created(self) -> bool:
        return True

    @property
    def physical_resource_id(self) -> str:
        return self._physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name not in self.attributes:
            raise _unsupported_attribute()
        return getattr(self, self.attributes[attribute_name])

    def delete(self, account_id: str, region_name: str) -> None:
        raise NotImplementedError

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FidelityResource:
        resource = cls(resource_name, account_id, region_name, cloudformation_json.get("Properties", {}))
        resource.create()
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> FidelityResource:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def create(self) -> None:
        raise NotImplementedError


class EventBusPolicy(FidelityResource):
    def create(self) -> None:
        from moto.events.models import EventBusPolicyStatement, events_backends

        props = self.properties
        sid = props["StatementId"]
        bus = events_backends[self.account_id][self.region_name].describe_event_bus(
            props.get("EventBusName") or "default"
        )
        statement = dict(props.get("Statement") or {})
        if not statement:
            # The older form: Action, Principal and an optional Condition (Type/Key/Value).
            statement = {
                "Effect": "Allow",
                "Principal": "*"
                if props.get("Principal") == "*"
                else {"AWS": f"arn:aws:iam::{props['Principal']}:root"},
                "Action": props.get("Action", "events:PutEvents"),
                "Resource": bus.arn,
            }
            condition = props.get("Condition")
            if condition:
                statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
        statement["Sid"] = sid
        statement.setdefault("Resource", bus.arn)
        # Inserted directly: moto's add_policy drops other statements with the same principal.
        bus._statements[sid] = EventBusPolicyStatement.from_dict(statement)
        self.bus_name = bus.name
        self._physical_id = sid

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.events.models import events_backends

        bus = events_backends[account_id][region_name].event_buses.get(self.bus_name)
        if bus is not None:
            bus.remove_statement(self._physical_id)


class QueuePolicy(FidelityResource):
    def _queues(self, *, existing_only: bool = False) -> list[Any]:
        from moto.sqs.exceptions import QueueDoesNotExist
        from moto.sqs.models import sqs_backends

        found = []
        for url in self.properties.get("Queues", []):
            account, name = str(url).rstrip("/").split("/")[-2:]
            try:
                found.append(sqs_backends[account][self.region_name].get_queue(name))
            except QueueDoesNotExist:
                if not existing_only:
                    raise
        return found

    def create(self) -> None:
        document = self.properties["PolicyDocument"]
        for queue in self._queues():
            queue.policy = document if isinstance(document, str) else json.dumps(document)
        self._physical_id = f"{self._physical_id}-{mock_random.get_random_string(8)}"

    def delete(self, account_id: str, region_name: str) -> None:
        # moto deletes a stack's resources in no dependency order: the queue may be gone already,
        # and with it its policy, which is what this deletion wants.
        for queue in self._queues(existing_only=True):
            queue.policy = None


class Secret(FidelityResource):
    attributes: ClassVar[dict[str, str]] = {"Id": "arn"}

    def _value(self) -> str | None:
        from moto.secretsmanager.models import secretsmanager_backends

        props = self.properties
        if "SecretString" in props:
            return str(props["SecretString"])
        spec = props.get("GenerateSecretString")
        if spec is None:
            return None
        raw = secretsmanager_backends[self.account_id][self.region_name].get_random_password(
            password_length=int(spec.get("PasswordLength", SECRET_DEFAULT_LENGTH)),
            exclude_characters=spec.get("ExcludeCharacters", ""),
            exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
            include_space=bool(spec.get("IncludeSpace", False)),
            require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
        )
        password = json.loads(raw)["RandomPassword"]
        if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
            document = json.loads(spec["SecretStringTemplate"])
            document[spec["GenerateStringKey"]] = password
            return json.dumps(document)
        return str(password)

    def create(self) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        props = self.properties
        name = props.get("Name") or self._physical_id
        backend = secretsmanager_backends[self.account_id][self.region_name]
        backend.create_secret(
            name=name,
            secret_string=self._value(),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        self.arn = backend.describe_secret(name).arn
        self._physical_id = self.arn

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(
            secret_id=self.arn, recovery_window_in_days=None, force_delete_without_recovery=True
        )


class Alarm(FidelityResource):
    attributes: ClassVar[dict[str, str]] = {"Arn": "arn"}

    def create(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        p = self.properties
        name = p.get("AlarmName") or self._physical_id
        alarm = cloudwatch_backends[self.account_id][self.region_name].put_metric_alarm(
            name=name,
            namespace=p.get("Namespace"),  # type: ignore[arg-type]
            metric_name=p.get("MetricName"),  # type: ignore[arg-type]
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p["Period"]) if "Period" in p else None,  # type: ignore[arg-type]
            threshold=float(p["Threshold"]) if "Threshold" in p else None,  # type: ignore[arg-type]
            statistic=p.get("Statistic"),  # type: ignore[arg-type]
            description=p.get("AlarmDescription"),  # type: ignore[arg-type]
            dimensions=list(p.get("Dimensions", [])),
            alarm_actions=p.get("AlarmActions", []),
            datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
            extended_statistic=p.get("ExtendedStatistic"),
            ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            unit=p.get("Unit"),
            actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
            tags=p.get("Tags"),
        )
        self.name = name
        self.arn = alarm.alarm_arn
        self._physical_id = name

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


class EventInvokeConfig(FidelityResource):
    def create(self) -> None:
        from moto.awslambda.utils import get_backend

        p = self.properties
        config = {k: v for k, v in p.items() if k not in ("FunctionName", "Qualifier")}
        get_backend(self.account_id, self.region_name).put_function_event_invoke_config(
            p["FunctionName"], config
        )
        self.function_name = p["FunctionName"]
        self._physical_id = f"{self._physical_id}-{mock_random.get_random_string(8)}"

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        get_backend(account_id, region_name).delete_function_event_invoke_config(self.function_name)


class SchedulerSchedule(FidelityResource):
    """AWS::Scheduler::Schedule in moto's scheduler backend (Ref: the name; GetAtt Arn). moto stores
    schedules and never runs them: e2p.local.schedules fires them."""

    attributes: ClassVar[dict[str, str]] = {"Arn": "arn"}

    def create(self) -> None:
        from moto.scheduler.models import scheduler_backends

        p = self.properties
        name = p.get("Name") or f"{self._physical_id}-{mock_random.get_random_string(12)}"
        schedule = scheduler_backends[self.account_id][self.region_name].create_schedule(
            description=p.get("Description", ""),
            end_date=p.get("EndDate"),  # type: ignore[arg-type]
            flexible_time_window=dict(p.get("FlexibleTimeWindow") or {"Mode": "OFF"}),
            group_name=p.get("GroupName") or "default",
            kms_key_arn=p.get("KmsKeyArn"),  # type: ignore[arg-type]
            name=name,
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"),  # type: ignore[arg-type]
            start_date=p.get("StartDate"),  # type: ignore[arg-type]
            state=p.get("State", "ENABLED"),
            target=dict(p["Target"]),
            action_after_completion=None,
        )
        self.name = name
        self.group = schedule.group_name
        self.arn = schedule.arn
        self._physical_id = name

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        scheduler_backends[account_id][region_name].delete_schedule(self.group, self.name)


class LambdaPermission(FidelityResource):
    """AWS::Lambda::Permission with a physical id (Ref: the permission's statement id), the statement added
    to the function's resource policy under that id, and removed with the stack. moto adds the
    statement but gives the resource no physical id (CloudFormation lists it as never created)."""

    def create(self) -> None:
        from moto.awslambda.utils import get_backend

        props = self.properties
        self._physical_id = f"{self._physical_id}-{mock_random.get_random_string(12)}"
        function = get_backend(self.account_id, self.region_name).get_function(props["FunctionName"])
        function.policy.add_statement(raw=json.dumps({**props, "StatementId": self._physical_id}))
        self.function_name = props["FunctionName"]

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.awslambda.exceptions import UnknownFunctionException, UnknownPolicyException
        from moto.awslambda.utils import get_backend

        try:
            function = get_backend(account_id, region_name).get_function(self.function_name)
            function.policy.del_statement(self._physical_id)
        except (UnknownFunctionException, UnknownPolicyException):
            return  # the function (and its policy) may be gone already: no order in moto's deletion


REGISTRY: dict[str, type[FidelityResource]] = {
    "AWS::Events::EventBusPolicy": EventBusPolicy,
    "AWS::SQS::QueuePolicy": QueuePolicy,
    "AWS::SecretsManager::Secret": Secret,
    "AWS::CloudWatch::Alarm": Alarm,
    "AWS::Lambda::EventInvokeConfig": EventInvokeConfig,
    "AWS::Scheduler::Schedule": SchedulerSchedule,
    "AWS::Lambda::Permission": LambdaPermission,
}

# The property that names the resource, where the type has one (else CloudFormation generates it).
NAME_PROPERTIES: dict[str, str] = {
    "AWS::SecretsManager::Secret": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Scheduler::Schedule": "Name",
}
