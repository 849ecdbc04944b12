"""The capability contracts, run for the Calendly connector against the sandbox.

Calendly has no role-change API and no assets in scope, so ``ChangesRoles`` / ``ListsAssets`` /
``GrantsAssets`` are absent (the contracts skip them; nothing is faked).
"""

from __future__ import annotations

from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.reads_member import ReadsMemberContract
from tests.contracts.removes_members import RemovesMembersContract


class TestCalendly(
    ListsMembersContract,
    ListsRolesContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
    ReadsMemberContract,
):
    kind = "calendly"
    org_id = "CONTRACTORGUUID1"
    owner_role = "owner"
    member_role = "user"
