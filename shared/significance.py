"""Promotion by evidence: a paired bootstrap of the improvement over the shared holdout rows.

Both models' predictions on the same rows are resampled together (the same rows for both),
so what the interval measures is the difference, not two noisy scores. Vectorised: for
classification a resample is a multinomial draw over the (true, candidate, champion) label
triples, whose counts give both confusion matrices; for regression a chunk of resamples is
one index matrix over the per-row errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.enums import Task

RESAMPLES = 2000
# Resamples per chunk: chunk x rows indices stay a few tens of MB at 20,000 holdout rows.
_CHUNK_CELLS = 4_000_000
# What a resample can recompute: confusion-matrix metrics and per-row error metrics.
BOOTSTRAP_METRICS = ("accuracy", "precision", "recall", "f1_score", "rmse", "mae", "r2")


@dataclass(frozen=True)
class Evidence:
    """The paired interval of the relative improvement (positive = the candidate is better)."""

    interval: tuple[float, float]
    confidence: float
    method: str
    resamples: int
    n_rows: int


def paired_bootstrap(
    y_true: np.ndarray,
    candidate_pred: np.ndarray,
    champion_pred: np.ndarray,
    *,
    task: Task,
    metric: str,
    higher_is_better: bool,
    confidence: float,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Evidence:
    """Percentile interval at ``confidence`` of the relative improvement of ``metric``."""
    if metric not in BOOTSTRAP_METRICS:
        raise ValueError(
            f"promotion_confidence: {metric} has no paired bootstrap; use one of "
            f"{', '.join(BOOTSTRAP_METRICS)}"
        )
    if not 0.5 < confidence < 1:
        raise ValueError(f"promotion_confidence: must be above 0.5 and below 1, got {confidence}")
    n = len(y_true)
    if n < 2 or len(candidate_pred) != n or len(champion_pred) != n:
        raise ValueError("paired bootstrap: needs the same two or more rows for both models")
    scorer: _ConfusionScorer | _ErrorScorer = (
        _ConfusionScorer(y_true, candidate_pred, champion_pred, metric)
        if Task(task) is Task.CLASSIFICATION
        else _ErrorScorer(y_true, candidate_pred, champion_pred, metric)
    )
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n)
    gains = []
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        new, old = scorer.score(scorer.draw(rng, size))
        gains.append(_relative_improvement(new, old, higher_is_better))
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.concatenate(gains), [tail, 1 - tail])
    method = f"paired bootstrap, {resamples} resamples of {n} holdout rows"
    return Evidence((float(low), float(high)), float(confidence), method, resamples, n)


def _relative_improvement(new: np.ndarray, old: np.ndarray, higher: bool) -> np.ndarray:
    """As ``-relative_drop`` elementwise: a zero baseline gives 0 or +-inf."""
    gain = (new - old) if higher else (old - new)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = gain / np.abs(old)
    zero = old == 0
    out[zero] = np.sign(gain[zero]) * np.inf
    out[zero & (gain == 0)] = 0.0
    return out


class _ConfusionScorer:
    """Classification: a row is one of few (true, candidate, champion) label triples, so a
    resample of the rows is a multinomial draw of the triples' counts; each model's
    confusion matrix per resample is then one matrix product."""

    def __init__(self, y: np.ndarray, new: np.ndarray, old: np.ndarray, metric: str) -> None:
        values = [np.asarray(v) for v in (y, new, old)]
        try:  # the labels' own order, as shared.evaluation (the larger label is positive)
            labels = np.unique(np.concatenate(values))
        except TypeError:  # mixed types: order them as text
            values = [v.astype(str) for v in values]
            labels = np.unique(np.concatenate(values))
        k = self.k = len(labels)
        self.metric = metric
        true, new_codes, old_codes = (np.searchsorted(labels, v) for v in values)
        triples, counts = np.unique((true * k + new_codes) * k + old_codes, return_counts=True)
        self.n = len(true)
        self.p = counts / counts.sum()
        true_of, new_of, old_of = triples // (k * k), (triples // k) % k, triples % k
        # each triple's confusion cell (true * k + predicted), for each model
        self.cells = (true_of * k + new_of, true_of * k + old_of)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.multinomial(self.n, self.p, size=size).astype(float)

    def score(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        new, old = (self._metric(self._confusion(counts, cells)) for cells in self.cells)
        return new, old

    def _confusion(self, counts: np.ndarray, cells: np.ndarray) -> np.ndarray:
        flat = np.zeros((self.k * self.k, len(counts)))
        np.add.at(flat, cells, counts.T)
        return flat.T.reshape(len(counts), self.k, self.k)

    def _metric(self, confusion: np.ndarray) -> np.ndarray:  # [resample, true, predicted]
        tp = np.diagonal(confusion, axis1=1, axis2=2)
        total = confusion.sum(axis=(1, 2))
        if self.metric == "accuracy":
            return tp.sum(axis=1) / total
        support = confusion.sum(axis=2)  # true rows per class
        predicted = confusion.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.metric == "precision":
                per_class = np.where(predicted > 0, tp / predicted, 0.0)
            elif self.metric == "recall":
                per_class = np.where(support > 0, tp / support, 0.0)
            else:  # f1_score
                denominator = predicted + support
                per_class = np.where(denominator > 0, 2 * tp / denominator, 0.0)
        if self.k == 2:  # binary, the larger label positive (as shared.evaluation)
            return per_class[:, 1]
        return (per_class * support).sum(axis=1) / support.sum(axis=1)  # weighted


class _ErrorScorer:
    """Regression: per resample, each model's error from its gathered per-row errors."""

    def __init__(self, y: np.ndarray, new: np.ndarray, old: np.ndarray, metric: str) -> None:
        self.metric = metric
        self.y = np.asarray(y, dtype=float)
        self.errors = (np.asarray(new, dtype=float) - self.y, np.asarray(old, dtype=float) - self.y)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        n = len(self.y)
        return rng.integers(0, n, size=(size, n), dtype=np.int32 if n < 2**31 else np.int64)

    def score(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        new, old = self.errors
        if self.metric == "mae":
            return np.abs(new)[index].mean(axis=1), np.abs(old)[index].mean(axis=1)
        squared = ((new * new)[index].mean(axis=1), (old * old)[index].mean(axis=1))
        if self.metric == "rmse":
            return np.sqrt(squared[0]), np.sqrt(squared[1])
        y = self.y[index]
        variance = y.var(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 - squared[0] / variance, 1 - squared[1] / variance
