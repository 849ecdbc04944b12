"""The seed click path for TikTok Business Center, in Chromium against the sandbox: Connect app
with the App Authorization pop-up (sign in at the vendor's page, Confirm; the pop-up closes and
the wizard says access was granted), details with the Business Center ID, Connect app; check for
updates and watch the job complete; claim Owner with Match user; remove a member with asset
access (gone from the sandbox with its grants). No console error; axe on each new page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from connectors.sandbox.tiktok_business_portal import PORTAL_PASSWORD
from tests.console.browser import Problems, axe_serious, browser, needs_chromium
from tests.console.conftest import Console, console_server
from tests.console.test_seed_github import (
    match_in_dialog,
    open_row_menu,
    scim_user,
    show_tab,
    wait_for_jobs_done,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, needs_chromium]
__all__ = ["browser"]

KIND, BC = "tiktok_business", "7212345678901234567"
OWNER = "ada.lovelace@example.com"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with console_server("sqlite", tmp_path_factory.mktemp("seed-tiktok")) as running:
        yield running


def members(console: Console) -> dict[str, dict[str, Any]]:
    return {m["email"]: m for m in console.sandbox.state(KIND, BC)["members"]}


def test_tiktok_seed_click_path(browser: Any, console: Console) -> None:
    _, admin = console.token()
    _, scim = console.token(scope="scim")
    scim_user(console, scim, "ada@corp.example", "ada@corp.example", "Ada Lovelace")
    scim_user(console, scim, "grace.hopper@example.com", "grace.hopper@example.com", "Grace Hopper")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=console.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems = Problems()
    problems.watch(page)

    page.goto("/")
    page.get_by_label("Admin token").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Connect app").click()
    # "Don't show this again" is remembered for this admin: Connect app then opens Select app
    dialog = page.get_by_role("dialog", name="Connect your apps")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Don't show this again").click()
    expect(page.get_by_role("heading", name="Select app")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Connect app").click()
    expect(page.get_by_role("heading", name="Select app")).to_be_visible()
    page.get_by_role("link", name="Select TikTok Business Center").click()

    # Grant access: the vendor's App Authorization page in a pop-up
    expect(page.get_by_role("heading", name="Grant access")).to_be_visible()
    assert axe_serious(page) == []
    with page.expect_popup() as opened:
        page.get_by_role("link", name="Grant access").click()
    popup = opened.value
    popup.get_by_label("Email or username").fill(OWNER)
    popup.get_by_label("Password").fill(PORTAL_PASSWORD)
    popup.get_by_role("button", name="Log in").click()
    popup.get_by_role("dialog", name="Confirm authorization").get_by_role("button", name="Confirm").click()
    popup.wait_for_event("close")
    expect(page.locator("#grant-status")).to_have_text("Access granted.")
    page.get_by_role("link", name="Next").click()

    # Enter app details (the kind's own label for the business id), then Connect app
    page.get_by_label("Label").fill("Paid social")
    page.get_by_label("Business Center ID").fill(BC)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Select automation account")).to_be_visible()
    expect(page.get_by_text("Access was granted through App Authorization")).to_be_visible()
    page.get_by_role("button", name="Connect app").click()
    expect(page.get_by_role("status").filter(has_text="Paid social is connected")).to_be_visible()
    assert PORTAL_PASSWORD not in page.content()

    # Check for updates; the job completes
    page.get_by_text("More options").first.click()
    page.get_by_role("button", name="Check for updates").click()
    page.get_by_role("link", name="See the job in Automation").click()
    wait_for_jobs_done(page)
    expect(page.get_by_role("row").filter(has_text="check").first.locator("td.status")).to_have_text("Completed")

    # Claim Owner for yourself
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Paid social").click()
    show_tab(page, "Unmatched users")
    page.get_by_role("row").filter(has_text=OWNER).get_by_role("link", name="Match user").click()
    match_in_dialog(page, "ada@corp", "Ada Lovelace · ada@corp.example", "Owner")
    expect(page.get_by_role("row").filter(has_text=OWNER)).to_contain_text("Owner")

    # Remove a member with asset access: gone from the business center and its assets
    assert "grace.hopper@example.com" in members(console)
    show_tab(page, "Onboarded users")
    open_row_menu(page, "grace.hopper@example.com", "Remove user")
    page.get_by_role("dialog", name="Remove user?").get_by_role("button", name="Remove user").click()
    expect(page.get_by_role("status").filter(has_text="Removing the user")).to_be_visible()
    wait_for_jobs_done(page)
    jobs = httpx.get(f"{console.url}/api/v1/jobs", headers={"Authorization": f"Bearer {admin}"}).json()["items"]
    failed = [(j["kind"], j["error"] or "") for j in jobs if j["status"] == "failed"]
    assert failed == []
    state = console.sandbox.state(KIND, BC)
    assert "grace.hopper@example.com" not in members(console)
    gone = {m["remote_id"] for m in state["members"]}
    assert all(g["remote_id"] in gone for a in state["assets"] for g in a["grants"])
    answer = httpx.get(f"{console.url}/api/v1/jobs", headers={"Authorization": f"Bearer {admin}"})
    assert all(j["status"] != "failed" for j in answer.json()["items"]), answer.text
    assert scim
    problems.assert_none()
    context.close()
