"""Settings: the only reader of the environment (prefix ``SCIM_BRIDGE_``)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable, with defaults that run the embedded single-process setup.

    The defaults give a durable SQLite file in the working directory; production sets
    ``SCIM_BRIDGE_DATABASE_URL`` to a PostgreSQL URL (``postgresql+psycopg://...``).
    """

    # SCIM_BRIDGE_SECRETS_DIR (e.g. /run/secrets, as docker-compose.yml sets): a file there named
    # like a variable (scim_bridge_database_url ...) gives that setting, so secrets stay out of
    # the environment. Read when this module is imported.
    model_config = SettingsConfigDict(env_prefix="SCIM_BRIDGE_", env_file=None, extra="ignore",
                                      secrets_dir=os.environ.get("SCIM_BRIDGE_SECRETS_DIR") or None)

    database_url: str = "sqlite:///./scim-bridge.db"
    host: str = "127.0.0.1"
    port: int = 8000
    public_base_url: str | None = None
    log_level: str = "INFO"
    access_log: bool = True

    # SCIM protocol limits, announced in /ServiceProviderConfig.
    max_payload_size: int = 1_048_576
    bulk_max_operations: int = 1000
    filter_max_results: int = 1000
    default_page_size: int = 100
    # Filters larger than these are refused (400 invalidFilter) before they are parsed; the RFC has
    # no place for them in /ServiceProviderConfig, so the README and openapi.yaml tell them
    # (scim/filter_limits.py; the upper bounds are its CEILING).
    filter_max_length: int = Field(2048, ge=1, le=16_384)
    filter_max_depth: int = Field(8, ge=1, le=32)
    filter_max_terms: int = Field(16, ge=1, le=200)
    # Attributes no schema defines are dropped and logged (Okta/Entra custom mappings); true
    # refuses them with a 400 instead (scim/attributes.py).
    scim_strict_attributes: bool = False

    # Tokens: how long a verified token may be served from memory before the store is asked again,
    # and how stale this process's view of revocations by other processes may be (auth.py).
    token_cache_seconds: float = 5.0
    token_revocation_check_seconds: float = 0.5

    # JWT bearer tokens (as Entra ID can send); off unless an issuer is configured.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_jwks_file: Path | None = None
    jwt_public_key_file: Path | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    jwt_workspace_claim: str = "tid"
    jwt_workspace: str | None = None  # a fixed workspace name for every valid JWT, instead of the claim

    # Secrets at rest (automation-account credentials): a Fernet key, or a file holding one.
    secret_key: str | None = None
    secret_key_file: Path = Path("./scim-bridge.key")

    # Background work in this process (``serve``): a job worker and the scheduler.
    run_worker: bool = True
    worker_lease_seconds: float = 30.0
    worker_poll_seconds: float = 1.0  # only bounds the wait for jobs queued by other processes
    worker_concurrency: int = 8  # jobs in flight per worker process
    worker_per_app: int = 2  # jobs in flight per app, across all processes
    job_retention_seconds: float | None = 7 * 86400.0  # completed jobs are pruned after this
    scheduler_tick_seconds: float = 30.0
    retry_base_seconds: float = 1.0
    # 0: a lone deactivation goes out at once; the guard's sliding window holds bursts (reconcile.py)
    outbox_debounce_seconds: float = 0.0
    sandbox_url: str | None = None  # where `serve --demo` serves the sandbox apps

    # The web console (scim_server/console): session limits, and OpenID Connect sign-in against the
    # workspace's own IdP (off unless an issuer and client id are set). Admins are the allowed
    # emails, or the members of an allowed group (the groups claim of the ID token).
    console_idle_seconds: float = Field(1800.0, gt=0)
    console_absolute_seconds: float = Field(43_200.0, gt=0)
    console_oidc_issuer: str | None = None
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: str | None = None
    console_oidc_workspace: str = "default"
    console_oidc_allowed_emails: list[str] = Field(default_factory=list)
    console_oidc_allowed_groups: list[str] = Field(default_factory=list)
    console_oidc_groups_claim: str = "groups"

    # The audit trail (scim_server/audit/): the key that signs checkpoints and export manifests (a
    # PEM, or a file generated 0600 when absent), how soon after commit events join the hash chain,
    # and how often the chain's head gets a signed checkpoint (when it moved).
    audit_signing_key: str | None = None
    audit_signing_key_file: Path = Path("./scim-bridge-audit-key.pem")
    audit_seal_seconds: float = 1.0
    audit_seal_quiet_seconds: float = Field(0.2, ge=0)
    audit_seal_max_seconds: float = Field(30.0, ge=0)
    audit_checkpoint_seconds: float = 300.0

    # Graceful shutdown (lifecycle.py): on SIGTERM ``/readyz`` answers 503 for the drain period
    # while requests are still served (the balancer's health check takes the process out), then
    # the requests in flight get up to the timeout to finish, and running jobs are handed back.
    shutdown_drain_seconds: float = Field(0.0, ge=0)
    shutdown_timeout_seconds: float = Field(30.0, gt=0)

    # SQLite durability: FULL fsyncs every commit (group commit keeps it fast).
    sqlite_synchronous: str = "FULL"
    write_batch_max: int = 256

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
