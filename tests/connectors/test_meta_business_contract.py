"""The capability contracts, run for the Meta Business Manager connector against the sandbox."""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract
from tests.contracts.removes_members import RemovesMembersContract


class TestMetaBusiness(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
    ReadsMemberContract,
):
    kind = "meta_business"
    org_id = "1234567890123"
    # The contract's asset ids ("asset-1") are not ``act_<n>``, so they are Pages at Graph.
    asset_type = "page"
    permissions = ("advertiser", "admin")
