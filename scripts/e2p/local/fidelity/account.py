"""AWS Account Management's Region opt-in API, which moto 5.2.5 does not have at all.

AWS behaviour restored (Account Management API Reference: ListRegions, EnableRegion, DisableRegion,
GetRegionOptStatus; "AccountId" parameter):
- every account has the commercial regions, enabled by default (ENABLED_BY_DEFAULT) or opt-in
  (DISABLED until enabled, then ENABLED); ListRegions lists them with their status, filtered by
  RegionOptStatusContains, paginated (MaxResults 1-50, NextToken);
- without AccountId a call acts on the caller's own account; with AccountId the caller must be
  the management account of the organisation the account belongs to (a delegated administrator
  is not modelled), the organisation must have trusted access for account.amazonaws.com enabled,
  and the management account cannot name itself ("The management account can't specify its own
  AccountId"): otherwise AccessDeniedException (or ValidationException for its own id);
- a region enabled by default cannot be enabled or disabled (ValidationException).
Enabling is immediate here (AWS reports ENABLING for a while); the watchdog reads ENABLED and
ENABLED_BY_DEFAULT only, so a region in ENABLING is reported on a later run in AWS.

The calls are routed by adding their paths to moto's account service (before its first request)
and their handlers to moto's AccountResponse; a plain server answers them 404 as moto does.

EC2 DescribeRegions tells the same story (EC2 API Reference, DescribeRegions): an opt-in region the
caller's account enabled is "opted-in" (moto: always "not-opted-in"), and without AllRegions only
the regions enabled for the account are listed (moto lists every region).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Final

from e2p.local.fidelity import organization, patching

ACCOUNT_SERVICE: Final = "account.amazonaws.com"
# Commercial regions enabled in every account, and those an account must opt in to (AWS General
# Reference, "Enable or disable AWS Regions in your account").
DEFAULT_REGIONS: Final = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1",
    "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1",
)  # fmt: skip
OPT_IN_REGIONS: Final = (
    "af-south-1", "ap-east-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1",
)  # fmt: skip
PATHS: Final = ("listRegions", "enableRegion", "disableRegion", "getRegionOptStatus")

_lock = threading.Lock()
# account id -> opt-in regions enabled in it (process-global, like moto's own state)
_ENABLED: dict[str, set[str]] = {}


def reset() -> None:
    with _lock:
        _ENABLED.clear()


def status(account_id: str, region: str) -> str:
    if region in DEFAULT_REGIONS:
        return "ENABLED_BY_DEFAULT"
    with _lock:
        return "ENABLED" if region in _ENABLED.get(account_id, set()) else "DISABLED"


# moto takes a handler's HTTP status from its headers' "status".
def _answer(body: Any, http: int = 200, **headers: str) -> tuple[int, dict[str, Any], str]:
    return http, {"status": http, "Content-Type": "application/json", **headers}, json.dumps(body)


def _error(code: str, message: str, http: int = 400) -> tuple[int, dict[str, Any], str]:
    return _answer({"message": message}, http, **{"x-amzn-ErrorType": code})


def _target_account(response: Any) -> tuple[str | None, tuple[int, dict[str, Any], str] | None]:
    """The account a call acts on, or the error AWS gives the caller."""
    caller = response.current_account
    named = response._get_param("AccountId")
    if not named:
        return caller, None
    membership = organization.membership(named)
    if membership is None or membership.management_account_id != caller:
        return None, _error(
            "AccessDeniedException",
            f"User: arn:aws:iam::{caller}:root is not authorized to act on account {named}",
            403,
        )
    if named == caller:
        return None, _error("ValidationException", "The management account can't specify its own AccountId.")
    backend = organization.org_backend_of(named)
    services = [s.get("ServicePrincipal") for s in (backend.services if backend is not None else [])]
    if ACCOUNT_SERVICE not in services:
        return None, _error(
            "AccessDeniedException",
            "Trusted access for AWS Account Management is not enabled in the organization.",
            403,
        )
    return named, None


def _not_in_moto() -> tuple[int, dict[str, Any], str]:
    # What plain moto answers for a path it does not route.
    return 404, {"status": 404}, ""


def list_regions(response: Any) -> Any:
    account, error = _target_account(response)
    if error is not None:
        return error
    assert account is not None
    wanted = response._get_param("RegionOptStatusContains") or []
    regions = [
        {"RegionName": region, "RegionOptStatus": status(account, region)}
        for region in (*DEFAULT_REGIONS, *OPT_IN_REGIONS)
    ]
    regions = [r for r in regions if not wanted or r["RegionOptStatus"] in wanted]
    size = int(response._get_param("MaxResults") or 50)
    start = int(response._get_param("NextToken") or 0)
    page: dict[str, Any] = {"Regions": regions[start : start + size]}
    if start + size < len(regions):
        page["NextToken"] = str(start + size)
    return _answer(page)


def _change(response: Any, enable: bool) -> Any:
    account, error = _target_account(response)
    if error is not None:
        return error
    assert account is not None
    region = str(response._get_param("RegionName") or "")
    if region in DEFAULT_REGIONS:
        return _error("ValidationException", f"{region} is enabled by default and cannot be changed.")
    if region not in OPT_IN_REGIONS:
        return _error("ValidationException", f"{region} is not a valid region name.")
    with _lock:
        enabled = _ENABLED.setdefault(account, set())
        if enable:
            enabled.add(region)
        else:
            enabled.discard(region)
    return _answer({})


def enable_region(response: Any) -> Any:
    return _change(response, enable=True)


def disable_region(response: Any) -> Any:
    return _change(response, enable=False)


def get_region_opt_status(response: Any) -> Any:
    account, error = _target_account(response)
    if error is not None:
        return error
    assert account is not None
    region = str(response._get_param("RegionName") or "")
    body = {"RegionName": region, "RegionOptStatus": status(account, region)}
    return _answer(body)


def _describe_regions(original: Any, backend: Any, region_names: list[str] | None = None) -> list[Any]:
    from moto.ec2.models.availability_zones_and_regions import Region

    found = original(backend, region_names)
    return [
        Region(r.name, r.endpoint, "opted-in")
        if r.opt_in_status == "not-opted-in" and status(backend.account_id, r.name) == "ENABLED"
        else r
        for r in found
    ]


def _describe_regions_response(original: Any, response: Any) -> Any:
    answer = original(response)
    if str(response._get_param("AllRegions", "false")).lower() == "true":
        return answer
    result = getattr(answer, "result", None)
    if isinstance(result, dict) and "Regions" in result:
        enabled = [r for r in result["Regions"] if getattr(r, "opt_in_status", "") != "not-opted-in"]
        result["Regions"] = enabled
    return answer


def install() -> None:
    """Route the region calls to the handlers above (idempotent; before the account service's first
    request, when moto builds its routes)."""
    from moto.account import urls
    from moto.account.responses import AccountResponse
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

    patching.replace(RegionsAndZonesBackend, "describe_regions", _describe_regions)
    patching.replace(AvailabilityZonesAndRegions, "describe_regions", _describe_regions_response)

    for path in PATHS:
        urls.url_paths.setdefault("{0}/" + path + "$", AccountResponse.dispatch)
    for name, handler in (
        ("list_regions", list_regions),
        ("enable_region", enable_region),
        ("disable_region", disable_region),
        ("get_region_opt_status", get_region_opt_status),
    ):
        patching.add_method(AccountResponse, name, handler, plain=_not_in_moto)
