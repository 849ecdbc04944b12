"""Settings: the only reader of the environment (prefix ``SCIM_BRIDGE_``)."""

from __future__ import annotations

import json
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
    # Each field's docstring is its description: the README's table is made from them (``markdown``).
    model_config = SettingsConfigDict(env_prefix="SCIM_BRIDGE_", env_file=None, extra="ignore",
                                      secrets_dir=os.environ.get("SCIM_BRIDGE_SECRETS_DIR") or None,
                                      use_attribute_docstrings=True)

    database_url: str = "sqlite:///./scim-bridge.db"
    """SQLite file (the embedded default) or PostgreSQL (`postgresql+psycopg://user@host/db`)."""
    database_pool_size: int = Field(32, ge=4)
    """PostgreSQL connections this process keeps: half for writes, a quarter for reads, the rest for
    background and CLI work (twice that in bursts)."""
    host: str = "127.0.0.1"
    """Address `serve` listens on."""
    port: int = 8000
    """Port `serve` listens on."""
    public_base_url: str | None = None
    """The URL clients reach this server at (behind a proxy); default: the request's Host."""
    log_level: str = "INFO"
    """Python log level of the JSON log lines."""
    access_log: bool = True
    """One log line per request."""

    # SCIM protocol limits, announced in /ServiceProviderConfig.
    max_payload_size: int = 1_048_576
    """Largest request body, bytes (413 above; `bulk.maxPayloadSize`)."""
    bulk_max_operations: int = 1000
    """Most operations in one Bulk request (413 above; `bulk.maxOperations`)."""
    filter_max_results: int = 1000
    """Most resources in one page (`filter.maxResults`)."""
    default_page_size: int = 100
    """Page size when a list request names no `count`."""
    # Filters larger than these are refused (400 invalidFilter) before they are parsed; the RFC has
    # no place for them in /ServiceProviderConfig, so the README and openapi.yaml tell them
    # (scim/filter_limits.py; the upper bounds are its CEILING).
    filter_max_length: int = Field(2048, ge=1, le=16_384)
    """Longest filter, characters (400 `invalidFilter` above)."""
    filter_max_depth: int = Field(8, ge=1, le=32)
    """Deepest nesting of a filter (parentheses, value-path brackets)."""
    filter_max_terms: int = Field(16, ge=1, le=200)
    """Most comparisons in a filter."""
    scim_strict_attributes: bool = False
    """Refuse attributes no schema defines with a 400, instead of dropping and logging them."""

    # Tokens (auth.py).
    token_cache_seconds: float = 5.0
    """How long a verified token is served from memory before the store is asked again."""
    token_revocation_check_seconds: float = 0.5
    """How stale this process's view of revocations by other processes may be."""

    # JWT bearer tokens (as Entra ID can send); off unless an issuer is configured.
    jwt_issuer: str | None = None
    """Issuer of accepted JWT bearer tokens; JWTs are refused unless set."""
    jwt_audience: str | None = None
    """Audience a JWT must name."""
    jwt_jwks_file: Path | None = None
    """JWKS file of the issuer's keys."""
    jwt_public_key_file: Path | None = None
    """PEM public key of the issuer (instead of a JWKS)."""
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    """Accepted JWT signature algorithms (a JSON list)."""
    jwt_workspace_claim: str = "tid"
    """The claim naming the workspace."""
    jwt_workspace: str | None = None
    """A fixed workspace for every valid JWT, instead of the claim."""

    secret_key: str | None = None
    """Fernet key that encrypts automation-account credentials at rest."""
    secret_key_file: Path = Path("./scim-bridge.key")
    """File holding that key, created 0600 on first use when no key is given."""

    # Background work in this process (``serve``): a job worker and the scheduler.
    run_worker: bool = True
    """Run a job worker, the scheduler and the audit sealer inside `serve` (false: API only)."""
    worker_lease_seconds: float = 30.0
    """How long a claimed job is a worker's before another may take it over."""
    worker_poll_seconds: float = 1.0
    """Longest wait for jobs queued by other processes."""
    worker_concurrency: int = 8
    """Jobs in flight per worker process."""
    worker_per_app: int = 2
    """Jobs in flight per app, across all processes."""
    job_retention_seconds: float | None = 7 * 86400.0
    """Completed jobs are pruned after this."""
    scheduler_tick_seconds: float = 30.0
    """How often the scheduler leader looks for due checks."""
    retry_base_seconds: float = 1.0
    """First retry delay of a failed job (doubling after)."""
    outbox_debounce_seconds: float = 0.0
    """Delay of the reconcile a directory change queues (0: at once; the guard window holds bursts)."""
    sandbox_url: str | None = None
    """Where `serve --demo` serves the sandbox apps."""

    # The web console (scim_server/console): session limits, and OpenID Connect sign-in against the
    # workspace's own IdP (off unless an issuer and client id are set). Admins are the allowed
    # emails, or the members of an allowed group (the groups claim of the ID token).
    console_idle_seconds: float = Field(1800.0, gt=0)
    """A console session ends after this long without a request."""
    console_absolute_seconds: float = Field(43_200.0, gt=0)
    """A console session ends this long after sign-in, whatever its use."""
    console_oidc_issuer: str | None = None
    """OpenID Connect issuer for console sign-in (off unless set, with a client id)."""
    console_oidc_client_id: str | None = None
    """The console's OIDC client id."""
    console_oidc_client_secret: str | None = None
    """The console's OIDC client secret."""
    console_oidc_workspace: str = "default"
    """Workspace an OIDC sign-in administers."""
    console_oidc_allowed_emails: list[str] = Field(default_factory=list)
    """Emails allowed to sign in (a JSON list)."""
    console_oidc_allowed_groups: list[str] = Field(default_factory=list)
    """Groups whose members may sign in (a JSON list)."""
    console_oidc_groups_claim: str = "groups"
    """The ID token claim listing groups."""

    # The audit trail (scim_server/audit/).
    audit_signing_key: str | None = None
    """PEM private key that signs checkpoints and export manifests."""
    audit_signing_key_file: Path = Path("./scim-bridge-audit-key.pem")
    """File holding that key, generated 0600 when absent."""
    audit_seal_seconds: float = 1.0
    """How often the sealer looks for events to put in the hash chain."""
    audit_seal_quiet_seconds: float = Field(0.2, ge=0)
    """The sealer waits for this long without a database read or write (audit/sealer.py)."""
    audit_seal_max_seconds: float = Field(30.0, ge=0)
    """...but seals an event at the latest this long after it first sees it, busy or not."""
    audit_checkpoint_seconds: float = 300.0
    """How often the chain's head gets a signed checkpoint (when it moved)."""

    # Notifications (scim_server/notify/) and SIEM streaming of the audit trail.
    smtp_host: str | None = None
    """SMTP server notification emails go through; unset: no email (webhooks still go)."""
    smtp_port: int = 25
    """Its port."""
    smtp_from: str = "scim-bridge@localhost"
    """The emails' From address."""
    smtp_username: str | None = None
    """SMTP login, when the server needs one."""
    smtp_password: str | None = None
    """SMTP password (never logged or shown)."""
    smtp_starttls: bool = False
    """Upgrade the SMTP connection with STARTTLS before logging in."""
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    """How long one SMTP conversation may take."""
    notify_emails: list[str] = Field(default_factory=list)
    """Addresses every workspace's notifications go to (JSON list), beside the workspace's own (API)
    and the app's owners."""
    notify_poll_seconds: float = Field(1.0, gt=0)
    """How often the notifier looks for notifications to dispatch and deliveries due."""
    notify_coalesce_seconds: float = Field(10.0, ge=0)
    """A report's changes this close together make one message (a burst names everyone once)."""
    notify_retry_base_seconds: float = Field(30.0, gt=0)
    """First retry of a failed delivery after this long, doubling each time..."""
    notify_retry_max_seconds: float = Field(3600.0, gt=0)
    """...up to this long between attempts."""
    notify_max_attempts: int = Field(12, ge=1)
    """A delivery is given up (`failed`) after this many attempts."""
    notify_webhook_timeout_seconds: float = Field(10.0, gt=0)
    """How long a webhook receiver has to answer."""
    notify_reminder_after_seconds: list[float] = Field(default_factory=lambda: [86400.0, 3 * 86400.0])
    """Reminders while a report stays pending: this long after it opened (JSON list; default 1 and 3 days)..."""
    notify_reminder_every_seconds: float = Field(7 * 86400.0, gt=0)
    """...then one every this long (default weekly)."""
    siem_splunk_url: str | None = None
    """Splunk HTTP Event Collector endpoint the audit trail streams to (`.../services/collector/event`)."""
    siem_splunk_token: str | None = None
    """Its HEC token, sent as `Authorization: Splunk <token>` (never logged)."""
    siem_syslog_host: str | None = None
    """Syslog collector the audit trail streams to: RFC 5424 over TCP, octet-counted (RFC 6587)."""
    siem_syslog_port: int = 601
    """Its TCP port."""
    siem_batch: int = Field(500, ge=1, le=10_000)
    """Events per batch sent to a SIEM sink; the sink's position moves after each batch."""
    siem_poll_seconds: float = Field(2.0, gt=0)
    """How often the streamer looks for new sealed events."""

    # Graceful shutdown (lifecycle.py): on SIGTERM ``/readyz`` answers 503 for the drain period
    # while requests are still served (the balancer's health check takes the process out), then
    # the requests in flight get up to the timeout to finish, and running jobs are handed back.
    shutdown_drain_seconds: float = Field(0.0, ge=0)
    """On SIGTERM, `/readyz` answers 503 this long while requests are still served (each response
    closing its connection). Must outlast the balancer's time to mark the process down, else it
    still sends requests when the process stops accepting: with deploy/haproxy.cfg, inter +
    (fall - 1) x fastinter = 0.75 s plus the checks' answers; the compose file drains 3 s."""
    shutdown_timeout_seconds: float = Field(30.0, gt=0)
    """Then requests in flight get this long to finish."""
    keep_alive_seconds: float = Field(75.0, ge=1)
    """An idle HTTP keep-alive connection is closed after this long. Keep it longer than the
    balancer keeps idle connections to the process (HAProxy's pool, an AWS ALB's 60 s), so the
    balancer closes them: a request it sends on one just as the server closes it is lost."""

    sqlite_synchronous: str = "FULL"
    """SQLite durability: FULL fsyncs every commit (group commit keeps it fast)."""
    sqlite_cache_mib: int = Field(16, ge=1)
    """Each SQLite connection's page cache, in MiB. The operating system caches the file too, and each of the process's readers and writers keeps a cache of its own: at 64 MiB a check of 50,000 members peaked 56 MB higher, and no faster."""
    write_batch_max: int = 256
    """Most SQLite write units committed in one transaction (group commit)."""

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


PREFIX = "SCIM_BRIDGE_"


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "(unset)"
    if isinstance(value, Path):
        return f"`{value}`"
    return f"`{json.dumps(value) if isinstance(value, list | bool) else value}`"


def markdown() -> str:
    """The README's settings table, made from ``Settings`` itself (``scripts/settings-table``)."""
    lines = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        description = " ".join((field.description or "").split()).replace("|", "\\|")
        lines.append(f"| `{PREFIX}{name.upper()}` | {_default(name)} | {description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m scim_server.settings --markdown")
    sys.stdout.write(markdown())
