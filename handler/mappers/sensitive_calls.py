"""API calls that deserve attention even when they succeed, and how much.

MAJOR: calls that blind the audit trail or the threat detectors (stop logging, delete a trail, a
detector, a recorder, flow logs), and security-group ingress opened to the whole internet.
WARNING: changes to who can do what (IAM policies, credentials, resource policies, sharing of
images and snapshots, key deletion) and to data protection (encryption, public access blocks,
versioning, replication). Everything else is INDETERMINATE unless an error or root raises it.
"""

from __future__ import annotations

from typing import Final

from handler.mappers import json_values as jv
from handler.mappers.cloudtrail_record import CloudTrailRecord
from handler.severity import Severity

AUDIT_BLINDING: Final = frozenset(
    {
        "StopLogging",
        "DeleteTrail",
        "StopEventDataStoreIngestion",
        "DeleteEventDataStore",
        "DeleteFlowLogs",
        "DeleteDetector",
        "DisassociateFromMasterAccount",
        "DisassociateFromAdministratorAccount",
        "StopMonitoringMembers",
        "DisableSecurityHub",
        "StopConfigurationRecorder",
        "DeleteConfigurationRecorder",
        "DeleteDeliveryChannel",
        "DeleteModelInvocationLoggingConfiguration",
        "DeleteResolverQueryLogConfig",
        "DisableEbsEncryptionByDefault",
        "LeaveOrganization",
    }
)

ACCESS_OR_PROTECTION_CHANGES: Final = frozenset(
    {
        # IAM: credentials, identities, policies, federation.
        "CreateAccessKey",
        "UpdateAccessKey",
        "CreateUser",
        "DeleteUser",
        "CreateLoginProfile",
        "UpdateLoginProfile",
        "AttachRolePolicy",
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "PutRolePolicy",
        "PutUserPolicy",
        "PutGroupPolicy",
        "CreatePolicyVersion",
        "SetDefaultPolicyVersion",
        "UpdateAssumeRolePolicy",
        "AddUserToGroup",
        "DeleteRolePermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "DeactivateMFADevice",
        "DeleteVirtualMFADevice",
        "CreateSAMLProvider",
        "UpdateSAMLProvider",
        "DeleteSAMLProvider",
        "CreateOpenIDConnectProvider",
        "UpdateAccountPasswordPolicy",
        "DeleteAccountPasswordPolicy",
        # S3: policies, ACLs, public access, encryption, versioning, replication, logging.
        "PutBucketPolicy",
        "DeleteBucketPolicy",
        "PutBucketAcl",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutAccountPublicAccessBlock",
        "DeleteAccountPublicAccessBlock",
        "DeleteBucketEncryption",
        "PutBucketVersioning",
        "PutBucketReplication",
        "DeleteBucketReplication",
        "PutBucketLogging",
        "DeleteBucket",
        # EC2 / VPC: network exposure, sharing, instance access, traffic mirroring.
        "AuthorizeSecurityGroupIngress",
        "CreateNetworkAclEntry",
        "ReplaceNetworkAclEntry",
        "ModifyImageAttribute",
        "ModifySnapshotAttribute",
        "ModifyInstanceAttribute",
        "CreateKeyPair",
        "ImportKeyPair",
        "GetPasswordData",
        "SendSSHPublicKey",
        "CreateTrafficMirrorSession",
        "CreateTrafficMirrorTarget",
        "CreateTrafficMirrorFilterRule",
        # KMS, Secrets Manager, resource policies of other services.
        "ScheduleKeyDeletion",
        "DisableKey",
        "PutKeyPolicy",
        "DeleteImportedKeyMaterial",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
        "DeleteSecret",
        "AddPermission",
        "CreateFunctionUrlConfig",
        "UpdateFunctionUrlConfig",
        "SetRepositoryPolicy",
        "UpdateProjectVisibility",
        # Logging and detection settings short of switching them off.
        "UpdateTrail",
        "PutEventSelectors",
        "DeleteConfigRule",
        "UpdateDetector",
        "CreateIPSet",
        "UpdateIPSet",
        "CreateFilter",
        "DisassociateWebACL",
        "DeleteWebACL",
        "DeleteGuardrail",
        # RDS sharing and deletion.
        "ModifyDBSnapshotAttribute",
        "ModifyDBClusterSnapshotAttribute",
        "AuthorizeDBSecurityGroupIngress",
        "DeleteDBInstance",
        "DeleteDBCluster",
        "StopActivityStream",
    }
)

WORLD_CIDRS: Final = frozenset({"0.0.0.0/0", "::/0"})


def world_open_ingress(record: CloudTrailRecord) -> bool:
    """AuthorizeSecurityGroupIngress granting 0.0.0.0/0 or ::/0."""
    if record.api_name != "AuthorizeSecurityGroupIngress":
        return False
    for permission in jv.mappings(jv.at(record.request, "ipPermissions", "items")):
        for ipv4 in jv.mappings(jv.at(permission, "ipRanges", "items")):
            if jv.text(ipv4.get("cidrIp")) in WORLD_CIDRS:
                return True
        for ipv6 in jv.mappings(jv.at(permission, "ipv6Ranges", "items")):
            if jv.text(ipv6.get("cidrIpv6")) in WORLD_CIDRS:
                return True
    # The single-rule form of the API (CidrIp parameter) records the CIDR at the top level.
    return jv.text(record.request.get("cidrIp")) in WORLD_CIDRS


def sensitivity(record: CloudTrailRecord) -> tuple[Severity, str]:
    """The severity the call deserves on its own, and a note for the summary ("" when none)."""
    name = record.api_name
    if world_open_ingress(record):
        return Severity.MAJOR, " from 0.0.0.0/0"
    if name in AUDIT_BLINDING:
        return Severity.MAJOR, ""
    if name in ACCESS_OR_PROTECTION_CHANGES:
        return Severity.WARNING, ""
    return Severity.INDETERMINATE, ""
