"""TikTok App Authorization, driven for real in headless Chromium against the sandbox's portal pages.

Each test launches Debian's Chromium (``/usr/bin/chromium``) through Playwright; a failed step must
name itself and leave a screenshot and a trace on disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connectors.base import AutomationAccount, Secret
from connectors.browser import BrowserSettings, BrowserStepError
from connectors.errors import AuthError, InvalidRequest
from connectors.sandbox import SandboxClient
from connectors.sandbox.tiktok_business import APP_ID, APP_NAME, APP_SECRET, PORTAL_PASSWORD
from connectors.tiktok_business import TikTokBusinessConnector, make_connector
from tests.contracts import FAST_SETTINGS, collect

KIND, BC, OTHER_BC = "tiktok_business", "7212345678901234567", "7212345678901234999"
OWNER = "owner@example.com"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None and not Path("/usr/bin/chromium").exists(),
                       reason="Debian's chromium is not installed (apt-get install -y chromium)"),
]


def account(**overrides: str) -> AutomationAccount:
    values = {"username": OWNER, "password": PORTAL_PASSWORD, "app_id": APP_ID, "app_secret": APP_SECRET}
    return AutomationAccount(**(values | overrides))  # type: ignore[arg-type]


def connector(sandbox: SandboxClient, artifacts: Path, token: str | None = None,
              keep_trace: bool = False) -> TikTokBusinessConnector:
    return make_connector(base_url=sandbox.kind_url(KIND), account=AutomationAccount(api_token=Secret(token) if token else None),
                          business_id=BC, settings=FAST_SETTINGS,
                          browser=BrowserSettings(timeout_ms=10_000, artifacts_dir=artifacts, keep_trace=keep_trace))


@pytest.fixture
def seeded(sandbox: SandboxClient) -> SandboxClient:
    members = [{"email": OWNER, "name": "Owner", "role": "ADMIN", "status": "active"},
               {"email": "staff@example.com", "name": "Staff", "role": "STANDARD", "status": "active"},
               {"email": "invitee@example.com", "name": "", "role": "STANDARD", "status": "pending"}]
    sandbox.seed(KIND, {"org": BC, "token": "seeded-token", "members": members})
    sandbox.seed(KIND, {"org": OTHER_BC, "members": [{"email": "else@example.com", "role": "ADMIN"}]})
    return sandbox


async def test_authorize_returns_a_token_that_lists_members(seeded: SandboxClient, tmp_path: Path) -> None:
    untokened = connector(seeded, tmp_path)
    try:
        with pytest.raises(AuthError):  # no token yet: TikTok answers 40104
            await collect(untokened.list_members())
        credentials = await untokened.authorize(account())
    finally:
        await untokened.aclose()
    token = credentials.token.reveal()
    assert token and token != "seeded-token" and token not in repr(credentials)
    assert credentials.extra["app_id"] == APP_ID and credentials.extra["scope"]
    authorized = connector(seeded, tmp_path, token)
    try:
        await authorized.check()
        members = await collect(authorized.list_members())
    finally:
        await authorized.aclose()
    state = seeded.state(KIND, BC)["members"]
    assert {(m.remote_id, m.email, m.role, m.state) for m in members} == {
        (m["remote_id"], m["email"], m["role"], m["status"]) for m in state}
    assert list(tmp_path.iterdir()) == []  # nothing kept when every step succeeded


async def test_the_token_reaches_only_the_users_business_centers(seeded: SandboxClient, tmp_path: Path) -> None:
    first = connector(seeded, tmp_path)
    try:
        token = (await first.authorize(account())).token.reveal()
    finally:
        await first.aclose()
    other = make_connector(base_url=seeded.kind_url(KIND), account=AutomationAccount(api_token=Secret(token)),
                           business_id=OTHER_BC, settings=FAST_SETTINGS)
    try:
        with pytest.raises(Exception) as caught:
            await collect(other.list_members())
    finally:
        await other.aclose()
    assert getattr(caught.value, "vendor_code", None) == "40001"


async def test_wrong_password_fails_the_login_step_with_a_screenshot(seeded: SandboxClient, tmp_path: Path) -> None:
    target = connector(seeded, tmp_path)
    wrong = "definitely-not-the-password"
    try:
        with pytest.raises(BrowserStepError) as caught:
            await target.authorize(account(password=wrong))
    finally:
        await target.aclose()
    error = caught.value
    assert error.step == "login" and "Incorrect account or password" in str(error)
    assert error.screenshot_path is not None and Path(error.screenshot_path).stat().st_size > 0
    assert error.trace_path is None  # a trace would record the typed password: off by default
    assert [p.name for p in Path(error.screenshot_path).parent.iterdir()] == ["login.png"]
    assert Path(error.screenshot_path).is_relative_to(tmp_path)
    assert wrong not in str(error) and wrong not in repr(error)


async def test_a_standard_member_cannot_authorize(seeded: SandboxClient, tmp_path: Path) -> None:
    target = connector(seeded, tmp_path)
    try:
        with pytest.raises(BrowserStepError) as caught:
            await target.authorize(account(username="staff@example.com"))
    finally:
        await target.aclose()
    assert caught.value.step == "login"


async def test_unknown_app_fails_at_open_portal(seeded: SandboxClient, tmp_path: Path) -> None:
    target = connector(seeded, tmp_path)
    try:
        with pytest.raises(BrowserStepError) as caught:
            await target.authorize(account(app_id="7300000000000000999"))
    finally:
        await target.aclose()
    assert caught.value.step == "open_portal" and "app_id is invalid" in str(caught.value)
    assert caught.value.screenshot_path is not None and Path(caught.value.screenshot_path).exists()


async def test_wrong_app_secret_fails_at_exchange_with_opt_in_trace(seeded: SandboxClient, tmp_path: Path) -> None:
    target = connector(seeded, tmp_path, keep_trace=True)
    try:
        with pytest.raises(BrowserStepError) as caught:
            await target.authorize(account(app_secret="wrong-secret"))
    finally:
        await target.aclose()
    assert caught.value.step == "exchange" and "40001" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    assert caught.value.trace_path is not None and Path(caught.value.trace_path).exists()


async def test_consent_dialog_names_the_app(seeded: SandboxClient, tmp_path: Path) -> None:
    """The page object sees the pop-up the way a person does: the app's name and a Confirm button."""
    from connectors.browser import BrowserSession
    from connectors.browser.pages import TikTokAuthPortal
    from connectors.tiktok_business.authorization import portal_url

    base = seeded.kind_url(KIND)
    async with BrowserSession(KIND, "authorize", BrowserSettings(artifacts_dir=tmp_path)) as session:
        portal = TikTokAuthPortal(session.page)
        await portal.open(portal_url(base, APP_ID, "s1", f"{base}/portal/callback"))
        await portal.log_in(OWNER, PORTAL_PASSWORD)
        assert await portal.app_name() == APP_NAME
        redirected = portal.watch_redirect(f"{base}/portal/callback")
        await portal.confirm_access()
        url = await redirected
    assert "auth_code=" in url and "state=s1" in url


async def test_missing_account_fields_are_rejected_before_any_browser(tmp_path: Path) -> None:
    target = make_connector(base_url="http://127.0.0.1:9", account=AutomationAccount(), business_id=BC,
                            settings=FAST_SETTINGS)
    try:
        with pytest.raises(InvalidRequest, match="password, app_id, app_secret"):
            await target.authorize(AutomationAccount(username=OWNER))
    finally:
        await target.aclose()


async def test_a_missing_chromium_fails_the_launch_step(tmp_path: Path) -> None:
    from connectors.browser import BrowserSession

    settings = BrowserSettings(executable_path=str(tmp_path / "no-chromium"), artifacts_dir=tmp_path)
    with pytest.raises(BrowserStepError) as caught:
        async with BrowserSession(KIND, "authorize", settings, secrets=(Secret("s3cret"),)):
            pass
    assert caught.value.step == "launch"
