"""Celery settings, from the environment; every limit that matters is here, once.

| variable                           | default | meaning                                  |
|------------------------------------|---------|------------------------------------------|
| RETRAINING_JOB_SOFT_TIME_LIMIT     | 3300    | a training is asked to stop (seconds)    |
| RETRAINING_JOB_TIME_LIMIT          | 3600    | a training is killed (seconds)           |
| RETRAINING_CHECK_TIME_LIMIT        | 600     | a check, dispatch or reconcile is killed |
| RETRAINING_DISPATCH_INTERVAL       | 60      | Beat's dispatcher and reconciler period  |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import job_time_limit, positive_number

RETRAINING_QUEUE = "retraining"  # long trainings
CHECKS_QUEUE = "checks"  # short checks, dispatch and reconcile: never behind a training

RUN_JOB = "retraining.run_job"
RUN_CHECK = "retraining.run_check"
RENDER_CHECK_PAGE = "retraining.render_check_page"
PAGE_PRIORITY = 9  # Redis: 0 (the default) is served first, 9 last: checks before pages
DISPATCH_DUE = "retraining.dispatch_due"
RECONCILE = "retraining.reconcile"


@dataclass(frozen=True)
class WorkerConfig:
    job_soft_time_limit: float = 3300
    job_time_limit: float = 3600
    check_time_limit: float = 600
    dispatch_interval: float = 60

    @property
    def visibility_timeout(self) -> int:
        # Redis re-delivers an unacknowledged message after this: it must outlast any task,
        # or a long training would be delivered again while it still runs.
        return int(max(self.job_time_limit, self.check_time_limit) * 1.25) + 60

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkerConfig:
        env = os.environ if environ is None else environ
        config = cls(
            job_soft_time_limit=positive_number(env, "RETRAINING_JOB_SOFT_TIME_LIMIT", 3300),
            job_time_limit=job_time_limit(env),
            check_time_limit=positive_number(env, "RETRAINING_CHECK_TIME_LIMIT", 600),
            dispatch_interval=positive_number(env, "RETRAINING_DISPATCH_INTERVAL", 60),
        )
        if config.job_soft_time_limit >= config.job_time_limit:
            raise ValueError(
                "RETRAINING_JOB_SOFT_TIME_LIMIT: must be below RETRAINING_JOB_TIME_LIMIT"
            )
        return config
