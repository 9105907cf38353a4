"""Generated data for the demo, the examples, the tests and the benchmarks (nothing downloaded).

A churn-like binary classification table: numeric and categorical features, some missing
values, a timestamp, and a ``target``. ``drift`` shifts the inputs and changes how they relate
to the target, as a market change would: a model trained before it is worse after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

NUMERIC_FEATURES = ("tenure", "monthly_spend", "support_calls", "usage_hours", "discount")
CATEGORICAL_FEATURES = ("plan", "region")


def make_churn_frame(
    n_rows: int,
    *,
    drift: float = 0.0,
    seed: int = 0,
    end: datetime | None = None,
    days: int = 30,
    missing_rate: float = 0.02,
) -> pd.DataFrame:
    """``n_rows`` rows with timestamps spread over the ``days`` before ``end``.

    ``drift`` in [0, 1]: 0 is the original world; 1 is fully shifted inputs and relationship.
    """
    rng = np.random.default_rng(seed)
    end = end or datetime.now(UTC)
    frame = pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, 12.0, n_rows) * (1 - 0.5 * drift),
            "monthly_spend": rng.normal(60 + 25 * drift, 15, n_rows),
            "support_calls": rng.poisson(1.5 + 2.5 * drift, n_rows).astype(float),
            "usage_hours": rng.normal(40 - 12 * drift, 10, n_rows),
            "discount": rng.uniform(0, 0.3, n_rows),
            "plan": rng.choice(
                ["basic", "standard", "premium"], n_rows, p=_mix([0.5, 0.35, 0.15], drift)
            ),
            "region": rng.choice(["north", "south", "east", "west"], n_rows),
        }
    )
    logit = _churn_logit(frame, drift)
    frame["target"] = (rng.uniform(size=n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    seconds = rng.uniform(0, days * 86400, n_rows)
    frame.insert(0, "timestamp", [end - timedelta(seconds=float(s)) for s in seconds])
    for column in ("monthly_spend", "usage_hours"):
        frame.loc[rng.uniform(size=n_rows) < missing_rate, column] = np.nan
    return frame.sort_values("timestamp", ignore_index=True)


def _mix(weights: list[float], drift: float) -> list[float]:
    shifted = np.array(weights[::-1])
    mixed = (1 - drift) * np.array(weights) + drift * shifted
    return list(mixed / mixed.sum())


def _churn_logit(frame: pd.DataFrame, drift: float) -> np.ndarray:
    spend = frame["monthly_spend"].fillna(60).to_numpy()
    usage = frame["usage_hours"].fillna(40).to_numpy()
    plan_effect = frame["plan"].map({"basic": 0.6, "standard": 0.0, "premium": -0.6}).to_numpy()
    before = (
        -0.06 * frame["tenure"].to_numpy()
        + 0.5 * frame["support_calls"].to_numpy()
        + 0.03 * (spend - 60)
        - 0.04 * (usage - 40)
        + plan_effect
    )
    # after the change, price drives churn and support calls stop mattering
    after = (
        -0.02 * frame["tenure"].to_numpy()
        + 0.09 * (spend - 75)
        + 0.08 * (usage - 28)
        - 4.0 * frame["discount"].to_numpy()
        - plan_effect
        + 0.6
    )
    return 2.5 * ((1 - drift) * before + drift * after)
