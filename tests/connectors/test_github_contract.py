"""The capability contracts, run for the GitHub connector against the sandbox."""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract, ReadsPermissionContract
from tests.contracts.removes_members import RemovesMembersContract


class TestGitHub(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
    ReadsMemberContract,
    ReadsPermissionContract,
):
    kind = "github"
    org_id = "octo-org"
    asset_type = "repository"
    permissions = ("push", "admin")
