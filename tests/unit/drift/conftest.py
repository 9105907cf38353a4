"""Seeded frames for the drift tests: every kind of column Evidently's default tests meet."""

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from shared.drift import ReferenceProfile


def _mixed_frame(seed: int, rows: int, shift: float = 0.0) -> pd.DataFrame:
    """Numeric (continuous, integer, few values, binary), boolean and categorical columns."""
    rng = np.random.default_rng(seed)
    city_p = [0.4, 0.3, 0.2, 0.1] if not shift else [0.25, 0.25, 0.25, 0.25]
    few_p = [0.5, 0.3, 0.2] if not shift else [0.3, 0.3, 0.4]
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1, rows),
            "lognormal": rng.lognormal(0, 1, rows) * (1 + shift),
            "integer": rng.integers(0, 50, rows) + int(shift * 10),
            "few": rng.choice([0.0, 1.0, 2.0], rows, p=few_p),
            "binary": rng.choice([0, 1], rows),
            "flag": rng.random(rows) > 0.5 + shift / 5,
            "city": rng.choice(["paris", "lyon", "nice", "lille"], rows, p=city_p),
            "plan": rng.choice(["free", "paid"], rows),
            "sparse": np.where(rng.random(rows) < 0.1, np.nan, rng.normal(shift, 1, rows)),
        }
    )


@pytest.fixture(scope="session")
def mixed_frame() -> Callable[..., pd.DataFrame]:
    """``mixed_frame(seed, rows, shift=0.0)``: see :func:`_mixed_frame`."""
    return _mixed_frame


@pytest.fixture(scope="module")
def mixed_reference() -> pd.DataFrame:
    return _mixed_frame(1, 1_500).assign(empty=np.nan, target=0)


@pytest.fixture(scope="module")
def mixed_profile(mixed_reference) -> ReferenceProfile:
    columns = [name for name in mixed_reference.columns if name != "target"]
    return ReferenceProfile.from_frame(mixed_reference, columns)
