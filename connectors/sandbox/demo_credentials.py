"""What an admin types to connect each kind to the ``demo`` scenario (``serve --demo``, README).

For every kind with a fake: the business/org id of its demo org (``KindFake.demo_org``), and each
automation account the sandbox accepts there, named after the catalog's credential set:

- API kinds: ``{"api_token": "demo-token-<kind>"}`` (the token the scenario registers);
- Apple: the team key of the demo team (``private_key`` PEM, ``key_id`` = the demo token,
  ``issuer_id``), derived as ``connectors.sandbox.apple.team_credentials`` derives it;
- TikTok Business Center: the demo token, and the password login of the demo Business Center's
  admin (``ada.lovelace@example.com``) with the sandbox portal's password and developer app.

Sandbox values only: never a real credential.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.registry import get_spec
from connectors.sandbox.app import fake_classes
from connectors.sandbox.apple import team_credentials
from connectors.sandbox.fake import demo_token
from connectors.sandbox.tiktok_business_portal import APP_ID, APP_SECRET, PORTAL_PASSWORD

__all__ = ["DEMO_ADMIN_EMAIL", "DemoApp", "demo_apps"]

DEMO_ADMIN_EMAIL = "ada.lovelace@example.com"  # the owner-role member of every demo org


@dataclass(frozen=True, slots=True)
class DemoApp:
    """One kind in the demo scenario, as a connect request sends it.

    :param business_id: the connect request's ``business_id`` (None for a kind that needs none).
    :param org: the sandbox's name for the org (Apple: the team, implied by the key).
    :param accounts: ``(credential set name, automation_account fields)``, the simplest first.
    """

    kind: str
    name: str
    business_id: str | None
    org: str
    accounts: tuple[tuple[str, dict[str, str]], ...]


def _accounts(kind: str) -> tuple[tuple[str, dict[str, str]], ...]:
    token = demo_token(kind)
    if kind == "apple":
        key = team_credentials(token)
        assert key.private_key is not None and key.key_id and key.issuer_id
        return (("account", {"private_key": key.private_key.reveal(), "key_id": key.key_id,
                             "issuer_id": key.issuer_id}),)  # fmt: skip
    if kind == "tiktok_business":
        return (("api_token", {"api_token": token}),
                ("password_login", {"username": DEMO_ADMIN_EMAIL, "password": PORTAL_PASSWORD,
                                    "app_id": APP_ID, "app_secret": APP_SECRET}))  # fmt: skip
    return (("account", {"api_token": token}),)


def demo_apps() -> list[DemoApp]:
    """Every kind with a fake, in catalog order."""
    apps = []
    for kind, fake in fake_classes().items():
        spec = get_spec(kind)
        business_id = fake.demo_org if spec.needs_business_id else None
        apps.append(DemoApp(kind, spec.name, business_id, fake.demo_org, _accounts(kind)))
    return apps
