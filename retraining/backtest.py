"""Backtest: replay a labelled history window by window through the real product.

What a user runs to choose thresholds before deploying them. The product's strategy is the
Python API itself (``RetrainingScheduler`` on the embedded default, in a temporary state
directory): each window is first scored by the model in service (prequential: before anything
is learnt from it), then checked (``check_retraining_needed`` with its labels), and retrained
when the check calls for it (``trigger_retraining``: the change-aware window, the champion's
comparison, the promotion rule). The clock is simulated (``shared.clock``): each window happens
at its last timestamp, or ``window_period`` after the previous one when rows have no
timestamp. Beside it, on the same windows and the same pipeline:

- ``never``: the first model, never retrained;
- ``schedule``: retrained every ``schedule_every`` windows on the latest ``training_rows``;
- ``oracle`` (given change points): after each change, retrained at every window's end on the
  rows after that change only (once ``min_training_samples`` of them are seen).

The loader of every strategy returns at most ``training_rows`` of the most recent labelled
rows seen so far, oldest first.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from shared.config import RetrainingConfig
from shared.errors import Invalid
from shared.modeling import TrainingPipeline

PRODUCT, NEVER, SCHEDULE, ORACLE = "product", "never", "schedule", "oracle"
_START = datetime(2000, 1, 1, tzinfo=UTC)  # the simulated clock of rows without timestamps


@dataclass(frozen=True)
class Window:
    index: int
    start: int  # first row (position in the history)
    end: int  # one past the last row
    at: datetime  # when it happens on the simulated clock


@dataclass
class StrategyRun:
    """One strategy's score on each window, and its retrainings."""

    name: str
    scores: list[float] = field(default_factory=list)
    retrained: list[int] = field(default_factory=list)  # window indexes
    promoted: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    compute_seconds: float = 0.0


@dataclass
class BacktestResult:
    metric: str
    higher_is_better: bool
    windows: list[Window]
    runs: dict[str, StrategyRun]
    change_points: list[int]

    def summary(self) -> list[dict[str, Any]]:
        """Per strategy: retrainings, mean score, mean score after each change, delays."""
        return [self._summary(run) for run in self.runs.values()]

    def detection_delays(self, run: StrategyRun) -> list[int | None]:
        """Windows from the one holding each change to the first retraining after it."""
        delays: list[int | None] = []
        for index, change in enumerate(self.change_points):
            first = self.window_of(change)
            following = self.change_points[index + 1 : index + 2]
            last = self.window_of(following[0]) if following else len(self.windows)
            after = [w for w in run.retrained if first <= w < last]
            delays.append(after[0] - first if after else None)
        return delays

    def mean_after_changes(self, run: StrategyRun) -> float | None:
        """The mean score over the windows that start at or after the first change."""
        if not self.change_points:
            return None
        scores = [run.scores[w.index] for w in self.windows if w.start >= self.change_points[0]]
        return statistics.fmean(scores) if scores else None

    def table(self) -> str:
        rows = self.summary()
        headers = list(rows[0])
        cells = [[_cell(row[h]) for h in headers] for row in rows]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
        return "\n".join(lines)

    def write_html(self, path: Path | str) -> Path:
        from retraining.backtest_report import render_backtest

        path = Path(path)
        path.write_text(render_backtest(self), encoding="utf-8")
        return path

    def _summary(self, run: StrategyRun) -> dict[str, Any]:
        delays = self.detection_delays(run)
        return {
            "strategy": run.name,
            "windows": len(run.scores),
            "retrainings": len(run.retrained),
            "promotions": len(run.promoted),
            f"mean {self.metric}": statistics.fmean(run.scores) if run.scores else None,
            f"{self.metric} after change": self.mean_after_changes(run),
            "detection delays (windows)": delays if self.change_points else None,
            "compute s": round(run.compute_seconds, 2),
        }

    def window_of(self, row: int) -> int:
        for window in self.windows:
            if window.start <= row < window.end:
                return window.index
        return len(self.windows)


def backtest(
    history: pd.DataFrame,
    config: RetrainingConfig,
    *,
    window_rows: int,
    initial_rows: int,
    training_rows: int | None = None,
    pipeline: TrainingPipeline | None = None,
    schedule_every: int | None = None,
    change_points: Sequence[int] | None = None,
    window_period: timedelta = timedelta(days=1),
) -> BacktestResult:
    """Replay ``history`` (labelled rows, oldest first) through the product and baselines.

    ``change_points``: row positions where the concept is known to change (delays and the
    oracle). ``schedule_every``: the fixed schedule's period in windows (None: no schedule).
    """
    _check_history(history, config, window_rows, initial_rows)
    config = config if config.model_name else config.with_model_name("backtest")
    pipeline = pipeline or TrainingPipeline(config.model_name)
    replay = _Replay(history.reset_index(drop=True), config, pipeline, training_rows)
    windows = replay.windows(window_rows, initial_rows, window_period)
    changes = sorted(change_points or [])
    runs = {PRODUCT: replay.product(windows)}
    runs[NEVER] = replay.baseline(NEVER, windows, lambda window: None)
    if schedule_every:
        runs[SCHEDULE] = replay.baseline(
            SCHEDULE, windows, lambda window: replay.scheduled(window, schedule_every)
        )
    if changes:
        runs[ORACLE] = replay.baseline(
            ORACLE, windows, lambda window: replay.oracle(window, changes)
        )
    return BacktestResult(replay.metric, replay.higher, windows, runs, changes)


def _check_history(
    history: pd.DataFrame, config: RetrainingConfig, window_rows: int, initial_rows: int
) -> None:
    if not isinstance(history, pd.DataFrame) or history.empty:
        raise Invalid("history: must be a non-empty pandas DataFrame")
    target = config.target_column
    if target not in history.columns or history[target].isna().all():
        raise Invalid(
            f"history: no labels in the target column {target!r}: a backtest replays "
            "labelled history (it scores each window before learning from it)"
        )
    for name, value in (("window_rows", window_rows), ("initial_rows", initial_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise Invalid(f"{name}: must be a positive whole number, got {value!r}")
    if initial_rows + window_rows > len(history):
        raise Invalid(
            f"initial_rows: {initial_rows} rows and one window of {window_rows} need more "
            f"than the history's {len(history)} rows"
        )


class _Replay:
    """The history, its windows, and how each strategy trains on it."""

    def __init__(
        self,
        history: pd.DataFrame,
        config: RetrainingConfig,
        pipeline: TrainingPipeline,
        training_rows: int | None,
    ) -> None:
        from shared.datasets import feature_columns_of
        from shared.evaluation import primary_metric

        self.history = history
        self.config = config
        self.pipeline = pipeline
        self.training_rows = training_rows
        target = config.target_column
        self.features = feature_columns_of(history, target, config.timestamp_column)
        self.task = pipeline.resolve_task(history[target].dropna())
        self.metric, self.higher = primary_metric(config, self.task)

    def windows(self, size: int, initial: int, period: timedelta) -> list[Window]:
        stamps = self._timestamps()
        out = []
        for index, start in enumerate(range(initial, len(self.history) - size + 1, size)):
            end = start + size
            at = stamps.iloc[end - 1] if stamps is not None else _START + period * (index + 1)
            out.append(Window(index, start, end, at))
        return out

    def labelled_until(self, end: int, start: int = 0) -> pd.DataFrame:
        rows = self.history.iloc[start:end]
        rows = rows[rows[self.config.target_column].notna()]
        return rows if self.training_rows is None else rows.tail(self.training_rows)

    def initial_at(self, window: Window) -> datetime:
        stamps = self._timestamps()
        return stamps.iloc[window.start - 1] if stamps is not None else _START

    def product(self, windows: list[Window]) -> StrategyRun:
        from retraining.scheduler import RetrainingScheduler, RetrainingTrigger
        from shared.clock import simulated_clock
        from shared.settings import Settings

        run = StrategyRun(PRODUCT)
        seen = {"end": windows[0].start}
        with tempfile.TemporaryDirectory(prefix="backtest-") as home, simulated_clock() as clock:
            # a replay needs the verdicts, not an Evidently page per window
            settings = Settings.from_env({"RETRAINING_HOME": home, "RETRAINING_CHECK_REPORTS": "0"})
            scheduler = RetrainingScheduler(
                self.config,
                lambda: self.labelled_until(seen["end"]),
                self.pipeline,
                settings=settings,
                notification_handler=_Quiet(),
            )
            try:
                clock.set(self.initial_at(windows[0]))
                first = scheduler.trigger_retraining(RetrainingTrigger.MANUAL, "initial model")
                if str(first.status) != "completed":
                    raise Invalid(f"history: the first model could not be trained: {first.error}")
                scheduler.initialize_monitors(self.labelled_until(seen["end"]))
                for window in windows:
                    clock.set(window.at)
                    frame = self.history.iloc[window.start : window.end]
                    run.scores.append(self._score(_champion(scheduler), frame))
                    needed = scheduler.check_retraining_needed(frame)
                    seen["end"] = window.end
                    if needed:
                        job = scheduler.trigger_retraining(needed.trigger, needed.reason)
                        run.retrained.append(window.index)
                        run.reasons[window.index] = needed.reason
                        run.compute_seconds += (job.details or {}).get("duration_seconds", 0.0)
                        if job.promoted:
                            run.promoted.append(window.index)
            finally:
                scheduler.close()
        return run

    def baseline(self, name: str, windows: list[Window], training_for) -> StrategyRun:
        """Score each window with the model in service, then maybe train a new one."""
        run = StrategyRun(name)
        model = self._fit(self._initial_training(windows[0]), run)
        for window in windows:
            frame = self.history.iloc[window.start : window.end]
            run.scores.append(self._score(model, frame))
            rows = training_for(window)
            if rows is not None and len(rows) >= self.config.min_training_samples:
                model = self._fit(rows, run)
                run.retrained.append(window.index)
                run.promoted.append(window.index)
        return run

    def scheduled(self, window: Window, every: int) -> pd.DataFrame | None:
        return self.labelled_until(window.end) if (window.index + 1) % every == 0 else None

    def oracle(self, window: Window, changes: list[int]) -> pd.DataFrame | None:
        passed = [change for change in changes if change < window.end]
        return self.labelled_until(window.end, start=passed[-1]) if passed else None

    def _initial_training(self, first: Window) -> pd.DataFrame:
        from shared.datasets import newest_holdout

        train, _ = newest_holdout(self.labelled_until(first.start), self.pipeline.test_size)
        return train

    def _fit(self, rows: pd.DataFrame, run: StrategyRun) -> Any:
        from shared.modeling import fit_model

        started = time.perf_counter()
        model = fit_model(self.pipeline, rows, self.features, self.config.target_column, self.task)
        run.compute_seconds += time.perf_counter() - started
        return model

    def _score(self, model: Any, frame: pd.DataFrame) -> float:
        from shared.evaluation import compute_metrics

        metrics = compute_metrics(
            model, frame[self.features], frame[self.config.target_column], self.task
        )
        return metrics[self.metric]

    def _timestamps(self) -> pd.Series | None:
        column = self.config.timestamp_column
        if column is None:
            return None
        return pd.to_datetime(self.history[column], utc=True, format="mixed")


def _champion(scheduler) -> Any:
    record = scheduler.runtime.models.get(scheduler.model_name)
    return scheduler.runtime.registry.load(record.name, record.require_champion())


class _Quiet:
    """The backtest's notifier: a replay sends no e-mail and writes no log line per job."""

    def notify(self, job: Any) -> None:
        return None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return ",".join("-" if item is None else str(item) for item in value) or "-"
    return str(value)
