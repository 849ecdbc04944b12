"""GitHub vendor samples (tests/connectors/samples/github, from vendor-apis.md section 3): the client
parses them, the error map reads them, and the sandbox answers with the same shapes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.errors import AuthError, InvalidRequest, NotFound, RateLimited
from connectors.github.client import (
    parse_collaborator,
    parse_invitation,
    parse_membership,
    parse_repo,
    parse_user,
)
from connectors.http import raise_for_vendor
from connectors.sandbox import SandboxClient
from tests.connectors.shapes import assert_same_shape, load_sample

ORG, TOKEN = "octo-org", "sample-token"


def sample(name: str) -> object:
    return load_sample("github", name)


def test_client_parses_the_samples() -> None:
    [user] = [parse_user(u) for u in sample("orgs-members.json")]  # type: ignore[attr-defined]
    assert (user.login, user.id) == ("octocat", 1)
    membership = parse_membership(sample("orgs-membership.json"))  # type: ignore[arg-type]
    assert (membership.state, membership.role, membership.user.login) == ("active", "admin", "defunkt")
    [invitation] = [parse_invitation(i) for i in sample("orgs-invitations.json")]  # type: ignore[attr-defined]
    assert (invitation.id, invitation.email, invitation.role) == (1, "octocat@github.com", "direct_member")
    assert parse_invitation(sample("orgs-invitation-created.json")).login is None  # type: ignore[arg-type]
    [repo] = [parse_repo(r) for r in sample("orgs-repos.json")]  # type: ignore[attr-defined]
    assert (repo.name, repo.full_name) == ("Hello-World", "octo-org/Hello-World")
    [collaborator] = [parse_collaborator(c) for c in sample("repos-collaborators.json")]  # type: ignore[attr-defined]
    assert (collaborator.user.login, collaborator.role_name) == ("octocat", "write")
    assert collaborator.permissions["push"] is True


@pytest.mark.parametrize(
    ("name", "status", "headers", "error"),
    [
        ("error-401-bad-credentials.json", 401, {}, AuthError),
        ("error-404-not-found.json", 404, {}, NotFound),
        ("error-422-already-exists.json", 422, {}, InvalidRequest),
        ("error-403-rate-limited.json", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"},
         RateLimited),
    ],
)
def test_error_samples_map_to_typed_errors(
    name: str, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    response = httpx.Response(status, json=sample(name), headers=headers)
    with pytest.raises(error) as caught:
        raise_for_vendor("github", "op", response)
    assert sample(name)["message"] in str(caught.value)  # type: ignore[index]
    if error is InvalidRequest:
        assert caught.value.vendor_code == "already_exists"  # type: ignore[attr-defined]


@pytest.fixture
def api(sandbox: SandboxClient) -> Iterator[httpx.Client]:
    sandbox.seed("github", {
        "org": ORG, "token": TOKEN,
        "members": [{"email": "octocat@example.com", "role": "admin", "status": "active"},
                    {"email": "invitee@example.com", "role": "member", "status": "pending"}],
        "assets": [{"id": "Hello-World", "name": "Hello World", "type": "repository",
                    "grants": [{"email": "octocat@example.com", "permission": "push"}]}],
    })
    with httpx.Client(base_url=sandbox.kind_url("github"),
                      headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "body", "name", "status"),
    [
        ("GET", f"/orgs/{ORG}/members", None, "orgs-members.json", 200),
        ("GET", f"/orgs/{ORG}/memberships/octocat", None, "orgs-membership.json", 200),
        ("GET", f"/orgs/{ORG}/invitations", None, "orgs-invitations.json", 200),
        ("POST", f"/orgs/{ORG}/invitations", {"email": "new@example.com", "role": "direct_member"},
         "orgs-invitation-created.json", 201),
        ("GET", f"/orgs/{ORG}/repos", None, "orgs-repos.json", 200),
        ("GET", f"/repos/{ORG}/Hello-World/collaborators", None, "repos-collaborators.json", 200),
        ("GET", "/orgs/elsewhere/members", None, "error-404-not-found.json", 404),
        ("POST", f"/orgs/{ORG}/invitations", {"email": "invitee@example.com"},
         "error-422-already-exists.json", 422),
    ],
)
def test_sandbox_answers_with_the_sample_shape(
    api: httpx.Client, method: str, path: str, body: object, name: str, status: int
) -> None:
    response = api.request(method, path, json=body)
    assert response.status_code == status
    assert_same_shape(sample(name), response.json())
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used"):
        assert header in response.headers


def test_sandbox_bad_credentials_sample(sandbox: SandboxClient) -> None:
    sandbox.seed("github", {"org": ORG, "token": TOKEN})
    response = httpx.get(f"{sandbox.kind_url('github')}/orgs/{ORG}/members",
                         headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json() == sample("error-401-bad-credentials.json")


@pytest.mark.parametrize("nth", [1, 2])
def test_sandbox_rate_limits_the_github_way(sandbox: SandboxClient, nth: int) -> None:
    """Primary (403 + x-ratelimit-remaining: 0) and secondary (429 + retry-after) limits alternate."""
    sandbox.seed("github", {"org": ORG, "token": TOKEN})
    sandbox.faults("github", rate_limit_every=1, retry_after=0)
    url = f"{sandbox.kind_url('github')}/orgs/{ORG}/members"
    responses = [httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) for _ in range(2)]
    response = responses[nth - 1]
    if response.status_code == 403:
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert_same_shape(sample("error-403-rate-limited.json"), response.json())
    else:
        assert response.status_code == 429 and "retry-after" in response.headers
    assert {r.status_code for r in responses} == {403, 429}
    with pytest.raises(RateLimited):
        raise_for_vendor("github", "list_members", response)
