"""The seed click paths for an API-token kind (GitHub), in Chromium against the sandbox: connect
through the wizard (a bad token is refused on its field, nothing saved), check for updates and
watch the job complete in Automation, the User overview tabs, claim Owner with Match user, match
another as Collaborator, exempt one with a reason, remove one (gone from the sandbox with its
asset grants), deactivate a user over SCIM and apply the resulting report in Reports.
Every step asserts on the page and on the sandbox; no console error on any page; axe on each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.browser import Problems, axe_serious, browser, needs_chromium
from tests.console.conftest import Console, console_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]
__all__ = ["browser"]

KIND, ORG = "github", "acme"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("seed-github")) as running:
        yield running


def scim_user(console: Console, token: str, user_name: str, email: str, display: str) -> str:
    answer = httpx.post(f"{console.url}/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name, "displayName": display,
        "emails": [{"value": email, "primary": True}], "active": True})  # fmt: skip
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def sandbox_members(console: Console) -> dict[str, dict[str, Any]]:
    return {m["email"]: m for m in console.sandbox.state(KIND, ORG)["members"]}


def granted(console: Console, email: str) -> bool:
    remote = sandbox_members(console).get(email, {}).get("remote_id")
    return any(g["remote_id"] == remote for a in console.sandbox.state(KIND, ORG)["assets"] for g in a["grants"])


def open_row_menu(page: Any, email: str, item: str) -> None:
    row = page.get_by_role("row").filter(has_text=email)
    row.get_by_text("More options").click()
    row.get_by_role("link", name=item).click()


def show_tab(page: Any, name: str) -> None:
    """Open a User overview tab and wait until it is the page shown (an htmx swap)."""
    tabs = page.get_by_role("navigation", name="User overview")
    tabs.get_by_role("link", name=name).click()
    expect(tabs.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")


def match_in_dialog(page: Any, search: str, choice: str, role: str) -> None:
    """The Match user dialog: Match with (search), pick the user, Next, Select role, Match user."""
    dialog = page.get_by_role("dialog", name="Match user")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Match with").fill(search)
    dialog.get_by_role("button", name="Search").click()
    expect(dialog.get_by_role("radio")).to_have_count(1)  # the search answered (the first list had everyone)
    dialog.get_by_label(choice).check()
    dialog.get_by_role("button", name="Next").click()
    expect(dialog.get_by_role("heading", name="Select role")).to_be_visible()
    dialog.get_by_label("Role").select_option(label=role)
    dialog.get_by_role("button", name="Match user").click()
    expect(page.get_by_role("status").filter(has_text="User matched")).to_be_visible()


def wait_for_jobs_done(page: Any) -> None:
    page.wait_for_load_state()  # the action's own redirect first
    page.goto("/console/automation")  # (a click could still land on the page the redirect leaves)
    expect(page.locator("td.status-queued, td.status-running")).to_have_count(0, timeout=30_000)


def test_github_seed_click_path(browser: Any, console: Console) -> None:
    _, admin = console.token()
    _, scim = console.token(scope="scim")
    me = scim_user(console, scim, "ada@corp.example", "ada@corp.example", "Ada Lovelace")
    scim_user(console, scim, "grace.hopper@example.com", "grace.hopper@example.com", "Grace Hopper")
    alan = scim_user(console, scim, "alan@corp.example", "alan@corp.example", "Alan Turing")
    assert me
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=console.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = Problems()
    problems.watch(page)

    # Sign in, Connect app -> Connect your apps -> Get started -> Select app
    page.goto("/")
    page.get_by_label("Admin token").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Connect app").click()
    expect(page.get_by_role("dialog", name="Connect your apps")).to_be_visible()
    assert axe_serious(page) == []
    page.get_by_role("link", name="Get started").click()
    expect(page.get_by_role("heading", name="Select app")).to_be_visible()
    page.get_by_role("link", name="Select GitHub").click()

    # Enter app details, then the automation account: a bad token is refused on its field
    page.get_by_label("Label").fill("Engineering")
    page.get_by_label("Organization").fill(ORG)
    page.get_by_label("Single sign-on (SSO)").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Select automation account")).to_be_visible()
    assert axe_serious(page) == []
    page.get_by_label("Account label").fill("GitHub bot")
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Connect app").click()
    expect(page.locator("#api_token-error")).to_be_visible()
    expect(page.get_by_label("API token")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Account label")).to_have_value("GitHub bot")  # kept; the token is not
    assert axe_serious(page) == []
    assert "not-the-token" not in page.content()
    apps = httpx.get(f"{console.url}/api/v1/apps", headers={"Authorization": f"Bearer {admin}"}).json()["items"]
    assert apps == []  # nothing saved
    page.get_by_label("API token").fill("demo-token-github")
    page.get_by_role("button", name="Connect app").click()
    expect(page.get_by_role("status").filter(has_text="Engineering is connected")).to_be_visible()
    assert "demo-token-github" not in page.content()

    # Check for updates: the message box links to its job; the job completes in Automation
    page.get_by_text("More options").first.click()
    page.get_by_role("button", name="Check for updates").click()
    page.get_by_role("link", name="See the job in Automation").click()
    page.wait_for_url("**/console/automation/**")
    wait_for_jobs_done(page)
    expect(page.get_by_role("row").filter(has_text="check").first.locator("td.status")).to_have_text("Completed")
    assert axe_serious(page) == []

    # The User overview tabs
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Engineering").click()
    for tab in ("Onboarded users", "Unmatched users", "Exempted users"):
        expect(page.get_by_role("navigation", name="User overview").get_by_role("link", name=tab)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="grace.hopper@example.com")).to_be_visible()  # matched by email
    assert axe_serious(page) == []

    # Claim the Owner role for yourself with Match user
    show_tab(page, "Unmatched users")
    page.get_by_role("row").filter(has_text="ada.lovelace@example.com").get_by_role("link", name="Match user").click()
    match_in_dialog(page, "Ada", "Ada Lovelace · ada@corp.example", "Owner")
    expect(page.get_by_role("status").filter(has_text="User matched")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="ada.lovelace@example.com")).to_contain_text("Owner")

    # Match another unmatched user as Collaborator
    show_tab(page, "Unmatched users")
    page.get_by_role("row").filter(has_text="alan.turing@example.com").get_by_role("link", name="Match user").click()
    match_in_dialog(page, "alan@corp", "Alan Turing · alan@corp.example", "Collaborator")
    expect(page.get_by_role("row").filter(has_text="alan.turing@example.com")).to_contain_text("Collaborator")

    # Exempt one with a reason
    show_tab(page, "Unmatched users")
    open_row_menu(page, "edsger.dijkstra@example.com", "Exempt user")
    dialog = page.get_by_role("dialog", name="Exempt user")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Exempt member").click()  # no reason: the browser keeps the dialog open
    expect(dialog).to_be_visible()
    assert axe_serious(page) == []
    dialog.get_by_label("Provide a reason").fill("Contractor until March")
    dialog.get_by_role("button", name="Exempt member").click()
    expect(page.get_by_role("status").filter(has_text="User exempted")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="edsger.dijkstra@example.com")).to_contain_text("Contractor until March")

    # Remove one: gone from the sandbox, with its asset grants
    assert granted(console, "grace.hopper@example.com")
    show_tab(page, "Onboarded users")
    open_row_menu(page, "grace.hopper@example.com", "Remove user")
    dialog = page.get_by_role("dialog", name="Remove user?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()  # Cancel closes it; nothing is done
    expect(dialog).to_have_count(0)
    assert granted(console, "grace.hopper@example.com")
    open_row_menu(page, "grace.hopper@example.com", "Remove user")
    page.get_by_role("dialog", name="Remove user?").get_by_role("button", name="Remove user").click()
    expect(page.get_by_role("status").filter(has_text="Removing the user")).to_be_visible()
    wait_for_jobs_done(page)
    assert "grace.hopper@example.com" not in sandbox_members(console)
    assert not granted(console, "grace.hopper@example.com")

    # Deactivate a user over SCIM; apply the report in Reports
    answer = httpx.patch(f"{console.url}/scim/v2/Users/{alan}", headers={"Authorization": f"Bearer {scim}"}, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]})  # fmt: skip
    assert answer.status_code == 200, answer.text
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    # the report is planned after the outbox debounce; the page refreshes itself until one waits
    expect(page.get_by_role("button", name="Apply report")).to_be_visible(timeout=30_000)
    assert axe_serious(page) == []
    page.get_by_role("button", name="Apply report").click()
    expect(page.get_by_role("status").filter(has_text="Report applied")).to_be_visible()
    wait_for_jobs_done(page)
    assert "alan.turing@example.com" not in sandbox_members(console)
    problems.assert_none()
    context.close()
