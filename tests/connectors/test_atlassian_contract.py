"""The capability contracts, run for the Atlassian Cloud connector against the sandbox."""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract
from tests.contracts.removes_members import RemovesMembersContract


class TestAtlassian(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
    ReadsMemberContract,
):
    kind = "atlassian"
    org_id = "0b2e6f7a-5c4d-4e3f-8a9b-1c2d3e4f5a6b"
    asset_type = "product"
    permissions = ("atlassian/user", "atlassian/admin")
