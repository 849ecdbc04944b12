"""The capability contracts, run for the App Store Connect connector against the sandbox.

The connector authenticates with a team API key, not a token: ``make_connector`` turns the
contract's seed token (the key id) into the account the sandbox verifies JWTs for
(``connectors.sandbox.apple.team_credentials``). No assets in scope (the contracts skip them).
"""

from __future__ import annotations

from connectors.base import Connector
from connectors.http import HTTPSettings
from connectors.registry import create_connector
from connectors.sandbox import SandboxClient
from connectors.sandbox.apple import team_credentials
from tests.contracts.changes_roles import ChangesRolesContract
from tests.contracts.invites_members import InvitesMembersContract
from tests.contracts.lists_members import ListsMembersContract
from tests.contracts.lists_roles import ListsRolesContract
from tests.contracts.removes_members import RemovesMembersContract


class TestApple(
    ListsMembersContract,
    ListsRolesContract,
    InvitesMembersContract,
    RemovesMembersContract,
    ChangesRolesContract,
):
    kind = "apple"
    org_id = "contract-team"
    token = "CONTRACT01"
    owner_role = "ADMIN"
    member_role = "DEVELOPER"
    many_members = 450  # more than two pages of 200

    def make_connector(self, sandbox: SandboxClient, org: str, settings: HTTPSettings | None = None,
                       token: str | None = None) -> Connector:
        return create_connector(self.kind, account=team_credentials(token or self.token),
                                base_url=sandbox.kind_url(self.kind), business_id=None,
                                settings=settings or self.settings)
