"""What `cascade serve` hands to the processes it starts (API workers, the evaluator).

The parent has started the services, checked the schema and the contracts; its children
get the resulting settings and endpoints through one environment variable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from backend.core.config import Settings

SPEC_ENV = "CASCADE_SERVE_WORKER_SPEC"


@dataclass(frozen=True)
class ServeSpec:
    settings: Settings
    database_url: str
    rpc_url: str
    evaluator_metrics: str = ""  # where the evaluator process writes its series
    run_jobs: bool = True  # the scheduler's jobs in the API processes (benchmarks: off)

    def environ(self) -> dict[str, str]:
        """The environment entry that carries this spec."""
        payload = {
            "settings": self.settings.model_dump(mode="json"),
            "database_url": self.database_url,
            "rpc_url": self.rpc_url,
            "evaluator_metrics": self.evaluator_metrics,
            "run_jobs": self.run_jobs,
        }
        return {SPEC_ENV: json.dumps(payload)}

    @classmethod
    def from_environ(cls) -> ServeSpec:
        payload = json.loads(os.environ[SPEC_ENV])
        return cls(
            Settings.model_validate(payload["settings"]),
            payload["database_url"],
            payload["rpc_url"],
            payload.get("evaluator_metrics", ""),
            payload.get("run_jobs", True),
        )
