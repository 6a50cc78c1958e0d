"""`e2p deploy --include-new-regions`: extend the deployment to the opt-in regions accounts enabled.

StackSets auto-deployment covers new accounts, never new regions: an opt-in region an account
enables (Account Management: status ENABLED) is not forwarded until the StackSet's regions list it.
This reads, from the management account, the opt-in regions enabled in every active account below
the targeted OUs (and in the management account itself, for its own stacks), and gives the deploy a
context whose StackSet regions (and management regions) include them. A service-managed StackSet
deploys every listed region to every targeted account: a region enabled in one account is added for
all: a region is therefore added only once every targeted account enabled it, and the others are
reported with the accounts that lack them (the watchdog keeps alerting on them meanwhile).

Requires trusted access for AWS Account Management in the organisation (ListRegions with AccountId).
The management account must have enabled the region too: StackSets deploys opt-in regions only where
the administrator account has them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from e2p.aws.organization import accounts_in_units, stackset_targets
from e2p.console.options import CommandContext
from e2p.ops.heard import opted_in_regions

ACCOUNT_MANAGEMENT_REGION = "us-east-1"  # Account Management is a global service served from us-east-1


def enabled_opt_in_regions(ctx: CommandContext) -> dict[str, set[str]]:
    """account id -> opt-in regions it enabled, for the targeted accounts and the management account."""
    sessions = ctx.sessions
    admin = sessions.admin()
    management_id = sessions.management_account()
    organizations = sessions.client(admin, "organizations")
    accounts = stackset_targets(
        accounts_in_units(organizations, ctx.definition.organizational_units), management_id
    )
    account = sessions.client(admin, "account", ACCOUNT_MANAGEMENT_REGION)
    ids = [a.account_id for a in accounts]
    if ctx.settings.management.deploy_member_stacks:
        ids.append(management_id)
    return {account_id: opted_in_regions(account, account_id, management_id) for account_id in ids}


def _merged(current: Iterable[str], added: Iterable[str]) -> tuple[str, ...]:
    current = tuple(current)
    return current + tuple(sorted(set(added) - set(current)))


def with_new_regions(ctx: CommandContext, enabled: dict[str, set[str]]) -> tuple[CommandContext, list[str]]:
    """The context with the enabled opt-in regions added; and the regions added to the StackSet."""
    sessions = ctx.sessions
    management_id = sessions.management_account()
    members = {account: regions for account, regions in enabled.items() if account != management_id}
    own = enabled.get(management_id, set())
    candidates = {r for regions in members.values() for r in regions} - set(ctx.definition.regions)
    # A service-managed StackSet deploys every listed region to every targeted account, and only to
    # opt-in regions the administrator (management) account enabled too (AWS-FACTS.md): a region is
    # added once every targeted account and the management account enabled it; others are reported.
    everywhere = set.intersection(*members.values()) if members else set()
    added = sorted(candidates & everywhere & own)
    for region in sorted(candidates - set(added)):
        lacking = sorted(a for a, regions in members.items() if region not in regions)
        if region not in own:
            lacking.append(f"{management_id} (management)")
        ctx.output.warn(f"opt-in region {region} not added: not enabled in {', '.join(lacking)}")
    settings = ctx.settings
    stackset = dataclasses.replace(settings.stackset, regions=_merged(settings.stackset.regions, added))
    management = settings.management
    if management.deploy_member_stacks and own - set(management.regions):
        management = dataclasses.replace(management, regions=_merged(management.regions, own))
    settings = dataclasses.replace(settings, stackset=stackset, management=management)
    definition = dataclasses.replace(ctx.definition, regions=_merged(ctx.definition.regions, added))
    return dataclasses.replace(ctx, settings=settings, definition=definition), added
