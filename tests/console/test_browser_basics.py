"""Signing in and finding one's way, in Chromium: the sign-in page, every section of the left
navigation (axe-core: no serious or critical violation; no console error on any page), the
keyboard, a narrow screen, signing out and an ended session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from scim_server.store import tenancy
from tests.console.browser import Problems, axe_serious, browser, needs_chromium
from tests.console.conftest import Console, console_server

pytestmark = [pytest.mark.browser, needs_chromium]
__all__ = ["browser"]

SECTIONS = ["Apps", "Automation", "Reports", "Directory", "Audit", "Settings"]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("browser")) as running:
        _, admin = running.token()
        answer = httpx.post(f"{running.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin}"}, json={
            "kind": "github", "label": "Engineering", "business_id": "acme",
            "automation_account": {"api_token": "demo-token-github"},
            "api_base_url": f"{running.url}/sandbox/github"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        yield running


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[tuple[Any, Problems]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=console.url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    problems = Problems()
    problems.watch(opened)
    yield opened, problems
    context.close()


def sign_in(page: Any, token: str) -> None:
    page.goto("/")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/apps")


def test_sign_in_and_every_section_is_accessible(page: tuple[Any, Problems], console: Console) -> None:
    tab, problems = page
    tab.goto("/")
    tab.wait_for_url("**/console/sign-in**")
    assert axe_serious(tab) == []
    _, admin = console.token()
    sign_in(tab, admin)
    assert tab.get_by_role("heading", name="Engineering").is_visible()
    for name in SECTIONS:
        tab.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
        tab.wait_for_url(f"**/console/{name.lower()}")
        assert tab.get_by_role("heading", level=1, name=name).is_visible()
        assert tab.get_by_role("link", name=name).get_attribute("aria-current") == "page"
        assert axe_serious(tab) == [], name
        assert admin not in tab.content()
    problems.assert_none()


def test_the_keyboard_reaches_the_navigation_and_sign_in(page: tuple[Any, Problems], console: Console) -> None:
    tab, problems = page
    _, admin = console.token()
    tab.goto("/console/sign-in")
    tab.keyboard.press("Tab")  # skip link
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "token"
    tab.keyboard.type(admin)
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/console/apps")
    for _ in range(12):
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.textContent.trim()") == "Automation":
            break
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/console/automation")
    problems.assert_none()


def test_narrow_screen_keeps_navigation_and_tables_usable(browser: Any, console: Console) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    tab = context.new_page()
    problems = Problems()
    problems.watch(tab)
    _, admin = console.token()
    sign_in(tab, admin)
    for name in SECTIONS:
        assert tab.get_by_role("navigation", name="Main").get_by_role("link", name=name).is_visible()
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px)"
    problems.assert_none()
    context.close()


def test_sign_out_and_an_ended_session_go_to_sign_in(page: tuple[Any, Problems], console: Console) -> None:
    tab, problems = page
    _, admin = console.token()
    sign_in(tab, admin)
    tab.get_by_role("button", name="Sign out").click()
    tab.wait_for_url("**/console/sign-in")
    tab.goto("/console/reports")
    tab.wait_for_url("**/console/sign-in?next=%2Fconsole%2Freports")
    sign_in_again = console.token()[1]
    tab.get_by_label("Admin token").fill(sign_in_again)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/console/reports")
    # Directory first: Reports refreshes itself, and that refresh would race the click below
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Directory").click()
    tab.wait_for_url("**/console/directory")
    revoked = console.db.write_sync(lambda conn: tenancy.list_tokens(conn, "default"))[-1].id
    console.db.write_sync(lambda conn: tenancy.revoke_token(conn, revoked))
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()  # an htmx request
    expect(tab.get_by_label("Admin token")).to_be_visible()
    assert "/console/sign-in" in tab.url
    problems.assert_none()


def test_dialogs_with_the_keyboard_and_the_audit_view(page: tuple[Any, Problems], console: Console) -> None:
    """A row action's dialog opens from the keyboard as a modal, takes the focus, passes axe,
    closes on Escape and gives the focus back; Audit verifies the chain in place and passes axe."""
    tab, problems = page
    _, admin = console.token()
    app_id = httpx.get(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin}"}).json()["items"][0]["id"]
    check = httpx.post(f"{console.url}/api/v1/apps/{app_id}/check", headers={"Authorization": f"Bearer {admin}"})
    job = check.json()["job_id"]
    httpx.get(f"{console.url}/api/v1/jobs/{job}", params={"wait": "30"}, headers={"Authorization": f"Bearer {admin}"},
              timeout=40)  # fmt: skip
    sign_in(tab, admin)
    tab.goto(f"/console/apps/{app_id}/members?state=unmatched")
    row = tab.get_by_role("row").filter(has_text="edsger.dijkstra@example.com")
    row.get_by_text("More options").focus()
    tab.keyboard.press("Enter")
    row.get_by_role("link", name="Exempt user").focus()
    tab.keyboard.press("Enter")
    dialog = tab.get_by_role("dialog", name="Exempt user")
    expect(dialog).to_be_visible()
    assert tab.evaluate("document.querySelector('dialog').matches(':modal')")
    assert tab.evaluate("document.activeElement.closest('dialog') !== null")
    assert axe_serious(tab) == []
    tab.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert tab.evaluate("document.activeElement.textContent.trim()") == "More options"  # back on the row's menu
    row.get_by_role("checkbox").check()
    tab.get_by_role("button", name="Remove selected").click()
    bulk = tab.get_by_role("dialog", name="Remove users?")
    expect(bulk).to_contain_text("edsger.dijkstra@example.com")
    bulk.get_by_role("button", name="Cancel").click()
    expect(bulk).to_have_count(0)
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    tab.wait_for_url("**/console/audit")
    tab.get_by_role("button", name="Verify chain").or_(tab.get_by_role("link", name="Verify chain")).click()
    expect(tab.get_by_role("status").filter(has_text="The chain verifies")).to_be_visible()
    tab.get_by_label("Action").fill("app.*")
    tab.get_by_role("button", name="Filter").click()
    expect(tab.get_by_role("cell", name="app.check.request").first).to_be_visible()
    assert axe_serious(tab) == []
    problems.assert_none()


def test_notification_emails_in_settings(page: tuple[Any, Problems], console: Console) -> None:
    """Settings -> Notifications: the workspace's addresses are saved through the notification
    service (the API reads them back, the change is audited); a bad address saves nothing."""
    tab, problems = page
    _, admin = console.token("notify-console")
    sign_in(tab, admin)
    api = httpx.Client(base_url=f"{console.url}/api/v1", headers={"Authorization": f"Bearer {admin}"})
    tab.goto("/console/settings")
    field = tab.get_by_label("Notification emails")
    field.fill("it-team@example.com\nsecurity@example.com, it-team@example.com")
    tab.get_by_role("button", name="Save notification emails").click()
    expect(tab.get_by_role("status")).to_contain_text("Notification emails saved (2 addresses)")
    assert api.get("/notifications/settings").json()["emails"] == ["it-team@example.com", "security@example.com"]
    expect(tab.get_by_label("Notification emails")).to_have_value("it-team@example.com\nsecurity@example.com")
    tab.get_by_label("Notification emails").fill("not an address")
    tab.get_by_role("button", name="Save notification emails").click()
    expect(tab.get_by_role("alert")).to_contain_text("is not an email address")
    assert api.get("/notifications/settings").json()["emails"] == ["it-team@example.com", "security@example.com"]
    events = api.get("/audit", params={"action": "notify.settings.update"}).json()["items"]
    assert len(events) == 1 and events[0]["actor"]
    assert axe_serious(tab) == []
    problems.assert_none()
    api.close()
