"""Calibrated thresholds: per column, the threshold that unchanged data crosses with a known
probability (the false-alarm rate), at the sizes of the check at hand.

Why: Evidently's thresholds are fixed numbers whose false-alarm rate depends on the sample
sizes. Its chi-square treats the reference shares as exact, so at 300 reference and 300
current rows about a quarter of unchanged categorical columns are flagged; its Wasserstein
0.1 flags almost nothing at large sizes and a good share of columns at 100 current rows.

The null is "reference and current drawn from one distribution", that distribution estimated
by the reference itself (a parametric bootstrap of the two-sample null: both sides are
redrawn, so the reference's own noise is accounted for). From ``B`` null scores the threshold
is the ``j``-th most extreme, ``j = floor(rate * (B + 1))``: a further null score falls
beyond it with probability ``j / (B + 1) <= rate`` on average over the draws (its rank among
``B + 1`` exchangeable scores is uniform), whatever ``B``; ``B`` only sets how far one column's
rate may stray from it. Ties (discrete scores) only make alarms rarer. Per test:

* K-S: scipy's two-sample p-value is already valid (conservative with ties): threshold = rate.
* Tests on value counts (chi-square, Z, Jensen-Shannon), scored exactly as Evidently scores
  them: ``B`` reference-size and current-size multinomial samples are drawn from the
  reference shares at check time (vectorised; about 1999 draws, fewer for columns with very
  many categories so a column costs milliseconds), each pair scored. Remembered per column
  and check size on the :class:`Calibration` (kept in memory with it).
* Normalised Wasserstein: ``W1 / std / sqrt(1 / a + 1 / b)`` has a null distribution that
  depends on the sizes ``a, b`` mostly through ``sqrt(1 / a + 1 / b)`` (it converges to the
  integral of a Brownian bridge through F; heavy tails converge slowly). Once per reference,
  ``NULL_DRAWS`` simulated references are drawn from the values the profile keeps, each with
  a simulated current of each of ``CURRENT_SIZES``, and scored; the sorted scaled scores are
  stored (a write-once blob beside the profile, ``shared.drift.store``). A simulated reference
  has the reference's own size up to ``REFERENCE_SIDE_MAX`` and is then divided by its own std,
  as the check divides by the reference's: with heavy tails that std is noisy, which raises
  the scores (without it, log-normal columns of 2,000 rows were flagged at about 1.8% for a
  1% target). At check time the quantile is interpolated in ``sqrt(1 / a + 1 / b)`` between
  the current sizes (clamped at the ends) and multiplied by ``sqrt(1 / n_ref + 1 / n_cur)``.

Every draw is seeded (the profile's seed, the column's position, a digest of the column's
reference values or counts, the check size), so a check is reproducible; the digest gives each
reference its own draws, so the simulation's error is not shared by every reference. A
false-alarm rate below ``1 / (NULL_DRAWS + 1)`` is not resolved for Wasserstein: the largest
null score is used (a rate of about 0.1%).
"""

from __future__ import annotations

import io
import json
import math
import os
import threading
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from shared.drift.columns import NUMERIC
from shared.drift.profile import ColumnProfile, ReferenceProfile
from shared.drift.stattests import (
    CHI_SQUARE,
    COUNTS,
    JENSEN_SHANNON,
    KS,
    STATTESTS,
    WASSERSTEIN,
    Z_TEST,
    StatTest,
)
from shared.drift.stattests.wasserstein import MIN_STD, norm

CALIBRATION_FORMAT_VERSION = 1
_FORMAT = "shared.drift.Calibration"

NULL_DRAWS = 999  # Wasserstein null scores stored per column and current size
CURRENT_SIZES = (100, 500, 2500)  # the simulated currents' sizes
REFERENCE_SIDE_MAX = 5000  # simulated references: the reference's size, up to this
COUNT_TAIL = 20  # simulated counts scores beyond the threshold, when affordable
COUNT_CELLS = 64_000  # simulated counts per side (draws x categories) before draws shrink
MEMO_SIZE = 4096  # counts thresholds remembered per calibration (column, test, size, rate)
_CHUNK_VALUES = 600_000  # values drawn at once while building, to bound memory
_WASSERSTEIN_STREAM = 1  # seed tags: the stored nulls and the check-time draws never share
_COUNTS_STREAM = 2


@dataclass(frozen=True, eq=False)
class WassersteinNull:
    """One numeric column's sorted scaled null scores, one row per pair size."""

    n_valid: int  # of the profiled column: a calibration is used with its own profile only
    std: float
    reference_side: int  # the simulated references' size
    scores: np.ndarray  # shape (len(CURRENT_SIZES), NULL_DRAWS), each row sorted

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WassersteinNull):
            return NotImplemented
        same = (self.n_valid, self.std, self.reference_side) == (
            other.n_valid,
            other.std,
            other.reference_side,
        )
        return same and np.array_equal(self.scores, other.scores)


@dataclass(frozen=True)
class Calibration:
    """What calibrating one reference profile costs once; see the module docstring."""

    nulls: Mapping[Hashable, WassersteinNull]
    current_sizes: tuple[int, ...] = CURRENT_SIZES
    _memo: dict[tuple, float] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def build(cls, profile: ReferenceProfile, workers: int | None = None) -> Calibration:
        """Seeded Wasserstein nulls of every numeric column with values.

        About 0.2 s of one core per column, columns in parallel threads (numpy's draws and
        gathers release the GIL); the same result whatever the number of threads.
        """
        numeric = [
            (position, column)
            for position, column in enumerate(profile.columns)
            if column.kind == NUMERIC and column.n_valid > 0
        ]

        def null_of(item: tuple[int, ColumnProfile]) -> tuple[Hashable, WassersteinNull]:
            return item[1].name, _column_null(profile.seed, *item)

        n_workers = min(workers or min(4, os.cpu_count() or 1), len(numeric))
        if n_workers <= 1:
            return cls(dict(map(null_of, numeric)))
        with ThreadPoolExecutor(n_workers, thread_name_prefix="drift-calibration") as pool:
            return cls(dict(pool.map(null_of, numeric)))

    def threshold(
        self,
        test: StatTest,
        column: ColumnProfile,
        n_current: int,
        rate: float,
        seed: Sequence[int],
    ) -> float:
        """The calibrated threshold of ``test`` on ``column`` at ``n_current`` current values.

        ``seed``: the profile's seed and the column's position (the counts tests' draws).
        """
        if test.name == KS.name:
            return rate
        if test.inputs == COUNTS:
            return self._counts_threshold(test, column, n_current, rate, seed)
        if test.name != WASSERSTEIN.name:
            raise ValueError(f"no calibration for the {test.name!r} test")
        return self._wasserstein_threshold(column, n_current, rate)

    def _wasserstein_threshold(self, column: ColumnProfile, n_current: int, rate: float) -> float:
        null = self.nulls.get(column.name)
        if null is None or null.n_valid != column.n_valid or null.std != column.std:
            raise ValueError(f"the calibration was not built from this profile: {column.name!r}")
        rank = tail_rank(rate, null.scores.shape[1])
        quantiles = null.scores[:, -rank]  # the rank-th largest scaled score per current size
        spread = math.sqrt(1.0 / column.n_valid + 1.0 / n_current)
        at = np.sqrt(1.0 / null.reference_side + 1.0 / np.asarray(self.current_sizes, float))
        order = np.argsort(at)
        scaled = float(np.interp(spread, at[order], quantiles[order]))
        return float(np.nextafter(scaled * spread, np.inf))  # beyond it, not at it

    def _counts_threshold(
        self,
        test: StatTest,
        column: ColumnProfile,
        n_current: int,
        rate: float,
        seed: Sequence[int],
    ) -> float:
        key = (column.name, test.name, column.n_valid, n_current, rate, tuple(seed))
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        found = counts_threshold(test, column, n_current, rate, seed)
        with self._lock:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found

    def to_bytes(self) -> bytes:
        """One ``.npz`` file (JSON metadata and arrays; no pickle), as profiles are kept."""
        names = list(self.nulls)
        meta = {
            "format": _FORMAT,
            "version": CALIBRATION_FORMAT_VERSION,
            "current_sizes": list(self.current_sizes),
            "columns": [
                {
                    "name": name,
                    "n_valid": self.nulls[name].n_valid,
                    "std": self.nulls[name].std,
                    "reference_side": self.nulls[name].reference_side,
                }
                for name in names
            ],
        }
        arrays = {f"null_{index}": self.nulls[name].scores for index, name in enumerate(names)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Calibration:
        """The calibration :meth:`to_bytes` wrote; ValueError for another format or version."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
            if meta.get("format") != _FORMAT or meta.get("version") != CALIBRATION_FORMAT_VERSION:
                raise ValueError(f"not a version {CALIBRATION_FORMAT_VERSION} drift calibration")
            nulls = {
                entry.pop("name"): WassersteinNull(**entry, scores=arrays[f"null_{i}"])
                for i, entry in enumerate(meta["columns"])
            }
        return cls(nulls, tuple(meta["current_sizes"]))


def _digest(array: np.ndarray | None) -> int:
    """A seed from an array's bytes: the same reference, the same draws."""
    return zlib.crc32(np.ascontiguousarray(array).tobytes())


def tail_rank(rate: float, draws: int) -> int:
    """How many of ``draws`` null scores lie beyond the threshold: ``floor(rate (B + 1))``.

    At least one: a rate below ``1 / (B + 1)`` is not resolved by ``B`` draws.
    """
    return max(1, math.floor(rate * (draws + 1) + 1e-9))


def null_threshold(scores: np.ndarray, rank: int, test: StatTest) -> float:
    """The ``rank``-th most extreme of the sorted null ``scores``: drift lies beyond it.

    A further null score falls beyond it with probability ``rank / (B + 1)``; ``rank - 1``
    of the ``B`` lie beyond it. Which side is drift, and whether the threshold itself is, are
    the test's own comparison.
    """
    high_is_drift = test.drift_if(1.0, 0.0)
    edge = float(scores[-rank] if high_is_drift else scores[rank - 1])
    if test.drift_if(edge, edge):  # the comparison includes the threshold: step past the edge
        return float(np.nextafter(edge, np.inf if high_is_drift else -np.inf))
    return edge


# --- Wasserstein: nulls stored once per reference ------------------------------------------------


def _column_null(seed: int, position: int, column: ColumnProfile) -> WassersteinNull:
    """The column's null, seeded by the profile, its position and its values."""
    rng = np.random.default_rng([seed, position, _WASSERSTEIN_STREAM, _digest(column.values)])
    side = min(column.n_valid, REFERENCE_SIDE_MAX)
    scores = _wasserstein_nulls(column, side, rng)
    return WassersteinNull(column.n_valid, float(column.std or 0.0), side, scores)


def _wasserstein_nulls(column: ColumnProfile, side: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted ``W1 / std / sqrt(1 / side + 1 / size)`` of ``NULL_DRAWS`` simulated pairs.

    One row per current size; each simulated reference of ``side`` values serves every size.
    Divided by each simulated reference's own std when ``side`` is the reference's size,
    else by the reference's std (its noise is small by then).
    """
    assert column.values is not None
    rows: list[list[np.ndarray]] = [[] for _ in CURRENT_SIZES]
    chunk = max(1, _CHUNK_VALUES // (side + max(CURRENT_SIZES)))
    for start in range(0, NULL_DRAWS, chunk):
        count = min(chunk, NULL_DRAWS - start)
        reference = _sorted_draws(column.values, side, count, rng)
        scale = norm(column)
        if side == column.n_valid:
            scale = np.maximum(reference.std(axis=1), MIN_STD)
        for row, size in zip(rows, CURRENT_SIZES, strict=True):
            current = _sorted_draws(column.values, size, count, rng)
            spread = math.sqrt(1.0 / side + 1.0 / size)
            row.append(_w1_rows(reference, current) / scale / spread)
    return np.vstack([np.sort(np.concatenate(row)) for row in rows])


def _w1_rows(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise exact W1 between sorted samples (rows) of sizes n and m.

    As ``wasserstein_sorted``: the merged steps of the two quantile functions, their bounds
    scaled by n*m to integers; the steps are the same for every row.
    """
    n, m = first.shape[1], second.shape[1]
    bounds = np.union1d(np.arange(n + 1, dtype=np.int64) * m, np.arange(m + 1, dtype=np.int64) * n)
    starts, lengths = bounds[:-1], np.diff(bounds).astype(float)
    return np.abs(first[:, starts // m] - second[:, starts // n]) @ lengths / (n * m)


def _sorted_draws(
    values: np.ndarray, size: int, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` sorted samples of ``size`` draws from sorted ``values``, without a sort.

    The order statistics of uniforms are the normalised cumulative sums of exponentials
    (Renyi); the empirical quantile function maps them to sorted draws of the values.
    """
    sums = np.cumsum(rng.standard_exponential((count, size + 1)), axis=1)
    uniforms = sums[:, :size] / sums[:, size:]
    index = np.minimum((uniforms * values.size).astype(np.int64), values.size - 1)
    return values[index]


# --- tests on counts: simulated at check time -----------------------------------------------------


def counts_threshold(
    test: StatTest, column: ColumnProfile, n_current: int, rate: float, seed: Sequence[int]
) -> float:
    """The threshold of a counts test from seeded multinomial draws of the reference shares."""
    assert column.keys is not None and column.counts is not None
    order = np.argsort(column.keys, kind="stable")  # sorted keys: the Z-test's "first" value
    counts = column.counts[order].astype(np.int64)
    draws, rank = count_draws(rate, counts.size)
    code = list(STATTESTS).index(test.name)
    rng = np.random.default_rng([*seed, _COUNTS_STREAM, _digest(counts), code, n_current])
    reference = multinomial_draws(counts, column.n_valid, draws, rng)
    current = multinomial_draws(counts, n_current, draws, rng)
    scores = COUNT_SCORES[test.name](reference, current, column.n_valid, n_current)
    no_evidence = 0.0 if test.drift_if(1.0, 0.0) else 1.0  # a NaN score is no drift
    scores = np.where(np.isnan(scores), no_evidence, scores)
    return null_threshold(np.sort(scores), rank, test)


def count_draws(rate: float, n_keys: int) -> tuple[int, int]:
    """(draws B, tail rank j) with ``j / (B + 1) <= rate``, within ``COUNT_CELLS`` if it can.

    ``COUNT_TAIL`` scores beyond the threshold when affordable; never fewer than one.
    """
    affordable = max(1, COUNT_CELLS // max(n_keys, 1))
    rank = max(1, min(COUNT_TAIL, math.floor(rate * (affordable + 1) + 1e-9)))
    return math.ceil(rank / rate - 1e-9) - 1, rank


def multinomial_draws(
    counts: np.ndarray, n_total: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """``draws`` multinomial samples of ``n_total`` with the shares ``counts / counts.sum()``.

    As a chain of binomials vectorised over the draws (faster than ``rng.multinomial`` with
    ``size``), with exact integer conditional shares.
    """
    sample = np.empty((draws, counts.size), dtype=np.int64)
    left = np.full(draws, n_total, dtype=np.int64)
    remaining = int(counts.sum())
    for index, count in enumerate(counts[:-1].tolist()):
        sample[:, index] = rng.binomial(left, count / remaining if remaining else 0.0)
        left -= sample[:, index]
        remaining -= count
    sample[:, -1] = left
    return sample


def _chi_square_scores(ref: np.ndarray, cur: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """Row-wise ``chi_square_p_value``: over the values either side has, unseen ones p = 0."""
    from scipy.stats import chi2

    expected = ref * (n_cur / n_ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(expected > 0, (cur - expected) ** 2 / expected, np.inf)
    terms = np.where((ref > 0) | (cur > 0), terms, 0.0)
    return chi2.sf(terms.sum(axis=1), ((ref > 0) | (cur > 0)).sum(axis=1) - 1)


def _z_scores(ref: np.ndarray, cur: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """Row-wise ``z_test_p_value`` (keys in sorted order): the share of the first value seen."""
    from scipy.stats import norm as normal

    present = (ref > 0) | (cur > 0)
    first = np.argmax(present, axis=1)
    rows = np.arange(ref.shape[0])
    p1 = (n_ref - ref[rows, first]) / n_ref
    p2 = (n_cur - cur[rows, first]) / n_cur
    pooled = (p1 * n_ref + p2 * n_cur) / (n_ref + n_cur)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
        p = 2 * (1 - normal.cdf(np.abs(z)))
    return np.where(present.sum(axis=1) == 1, 1.0, p)  # one same value on both sides


def _jensen_shannon_scores(ref: np.ndarray, cur: np.ndarray, n_ref: int, n_cur: int) -> np.ndarray:
    """Row-wise ``jensen_shannon_distance`` (natural log)."""
    from scipy.special import rel_entr

    p, q = ref / n_ref, cur / n_cur
    m = (p + q) / 2
    return np.sqrt((rel_entr(p, m).sum(axis=1) + rel_entr(q, m).sum(axis=1)) / 2)


COUNT_SCORES: dict[str, Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]] = {
    CHI_SQUARE.name: _chi_square_scores,
    Z_TEST.name: _z_scores,
    JENSEN_SHANNON.name: _jensen_shannon_scores,
}
