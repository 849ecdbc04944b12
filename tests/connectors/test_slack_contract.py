"""The capability contracts, run for the Slack connector against the sandbox."""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract
from tests.contracts.removes_members import RemovesMembersContract


class TestSlack(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
    ReadsMemberContract,
):
    kind = "slack"
    org_id = "T0CONTRACT1"
    owner_role = "admin"  # the first owner-level role the API can assign (primary owner is UI-only)
    member_role = "member"
