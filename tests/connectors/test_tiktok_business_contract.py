"""The capability contracts, run for the TikTok Business Center connector against the sandbox."""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.grants_assets import GrantsAssetsContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_assets import ListsAssetsContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.removes_members import RemovesMembersContract


class TestTikTokBusiness(
    ListsMembersContract,
    ListsRolesContract,
    ListsAssetsContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    GrantsAssetsContract,
):
    kind = "tiktok_business"
    org_id = "7000000000000000042"
    token = "0123456789abcdef0123456789abcdef01234567"
    asset_type = "ADVERTISER"
    permissions = ("ANALYST", "OPERATOR")
    many_members = 65  # bc/member/get pages hold at most 20
