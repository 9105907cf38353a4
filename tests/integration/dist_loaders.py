"""Data the worker processes load by import path (``dist_loaders:training_data``).

The integration tests put this directory on the workers' ``PYTHONPATH``, as a deployment puts
the user's package there. ``DIST_LOAD_SLEEP`` (seconds, read in the worker) makes a job slow
enough to kill a worker in the middle of it or to keep jobs queued behind it.
"""

from __future__ import annotations

import os
import time

import pandas as pd

from retraining.synthetic import make_churn_frame

ROWS = 1500  # a training of ~1 s: enough rows for min_training_samples=500 after the window


def training_data() -> pd.DataFrame:
    delay = float(os.environ.get("DIST_LOAD_SLEEP") or 0)
    if delay > 0:
        time.sleep(delay)
    return make_churn_frame(ROWS, seed=7)


def drifted_current_data() -> pd.DataFrame:
    """Production data after a market change: inputs and their relation to churn moved."""
    return make_churn_frame(600, drift=1.0, seed=11)
