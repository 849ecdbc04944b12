"""The limits the code enforces are the ones told to clients: in the README, in
openapi/openapi.yaml, in the settings' bounds and (for lengths) in /Schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from scim_server.scim.filter_limits import CEILING, DEFAULT_FILTER_LIMITS
from scim_server.scim.value_rules import MAX_NAME_CHARS, MAX_VALUE_BYTES
from scim_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCIM_WRITES = [("/scim/v2/Users", "post"), ("/scim/v2/Users/.search", "post"), ("/scim/v2/Users/{id}", "put"),
               ("/scim/v2/Users/{id}", "patch"), ("/scim/v2/Groups", "post"), ("/scim/v2/Groups/.search", "post"),
               ("/scim/v2/Groups/{id}", "put"), ("/scim/v2/Groups/{id}", "patch"), ("/scim/v2/.search", "post"),
               ("/scim/v2/Bulk", "post")]  # fmt: skip


def _openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "openapi" / "openapi.yaml").read_text())
    return loaded


def test_the_readme_tells_every_limit_and_its_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    limits = DEFAULT_FILTER_LIMITS
    for told in (f"| filter length | {limits.max_length} characters", f"| {limits.max_depth} levels",
                 f"| {limits.max_terms} | 400 `invalidFilter`", f"| {MAX_NAME_CHARS} characters",
                 f"| {MAX_VALUE_BYTES} bytes of UTF-8", "SCIM_BRIDGE_FILTER_MAX_LENGTH",
                 "SCIM_BRIDGE_FILTER_MAX_DEPTH", "SCIM_BRIDGE_FILTER_MAX_TERMS",
                 "SCIM_BRIDGE_SCIM_STRICT_ATTRIBUTES", f"at most {CEILING.max_length}",
                 f"at most {CEILING.max_depth}", f"at most {CEILING.max_terms}", "415"):  # fmt: skip
        assert told in readme, told


def test_the_settings_defaults_and_bounds_are_the_limits() -> None:
    defaults = Settings()
    assert (defaults.filter_max_length, defaults.filter_max_depth, defaults.filter_max_terms) == (
        DEFAULT_FILTER_LIMITS.max_length, DEFAULT_FILTER_LIMITS.max_depth, DEFAULT_FILTER_LIMITS.max_terms)  # fmt: skip
    for name in ("max_length", "max_depth", "max_terms"):
        bounds = {type(m).__name__: m for m in Settings.model_fields[f"filter_{name}"].metadata}
        assert bounds["Le"].le == getattr(CEILING, name) and bounds["Ge"].ge == 1


def test_openapi_tells_the_limits_and_the_415() -> None:
    doc = _openapi()
    components = doc["components"]
    assert components["parameters"]["ScimFilter"]["schema"]["maxLength"] == DEFAULT_FILTER_LIMITS.max_length
    assert components["schemas"]["SearchRequest"]["properties"]["filter"]["maxLength"] == DEFAULT_FILTER_LIMITS.max_length
    resource = components["schemas"]["ScimResource"]["properties"]
    for name in ("userName", "displayName", "externalId"):
        assert resource[name]["maxLength"] == MAX_NAME_CHARS
    for path, method in SCIM_WRITES:
        assert "415" in doc["paths"][path][method]["responses"], (path, method)


def test_service_provider_config_announces_max_results(scim: httpx.Client, server: Any) -> None:
    config = scim.get("/ServiceProviderConfig").json()
    assert config["filter"] == {"supported": True, "maxResults": server.settings.filter_max_results}
