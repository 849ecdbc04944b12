"""The composition root's product: what handlers reach through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scim_server.auth import Authenticator
from scim_server.jobs.pulse import Pulse
from scim_server.observability import Metrics
from scim_server.settings import Settings
from scim_server.store.db import Database
from scim_server.vault import Vault


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: Authenticator
    vault: Vault
    worker: Any = field(default=None)  # the in-process Worker, when this process runs one
    jobs_ended: Pulse = field(default_factory=Pulse)  # fired when this process's worker ends a job attempt
    metrics: Metrics = field(default_factory=Metrics)  # served at /metrics

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def stop_job(self, job_id: str) -> None:
        """Stop a cancelled job now if this process runs it (else its worker stops at its next step)."""
        if self.worker is not None:
            self.worker.interrupt(job_id)
