"""The backtest replays a history through the real product beside its baselines."""

import numpy as np
import pandas as pd
import pytest

from retraining.backtest import NEVER, ORACLE, PRODUCT, SCHEDULE, backtest
from shared.config import RetrainingConfig
from shared.errors import Invalid

CHANGE = 4000


def flipped_history(rows: int = 7000, change: int = CHANGE) -> pd.DataFrame:
    """Two features; after ``change`` the labelling rule flips (an abrupt change of concept)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.normal(size=rows)})
    score = frame["a"] + 0.5 * frame["b"]
    sign = np.where(np.arange(rows) < change, 1.0, -1.0)
    frame["target"] = (sign * score > 0).astype(int)
    return frame


def config(**options) -> RetrainingConfig:
    return RetrainingConfig(model_name="bt", min_training_samples=500, auto_promote=True, **options)


@pytest.fixture(scope="module")
def result():
    return backtest(
        flipped_history(),
        config(),
        window_rows=500,
        initial_rows=2000,
        training_rows=2000,
        schedule_every=4,
        change_points=[CHANGE],
    )


def test_the_product_retrains_soon_after_the_change_and_recovers(result):
    product, never = result.runs[PRODUCT], result.runs[NEVER]
    change_window = result.window_of(CHANGE)
    assert [w for w in product.retrained if w < change_window] == []  # no false retraining
    (delay,) = result.detection_delays(product)
    assert delay is not None and delay <= 1
    assert product.promoted and product.promoted[0] >= change_window
    assert result.mean_after_changes(product) > result.mean_after_changes(never) + 0.3
    assert product.scores[-1] > 0.95 and never.scores[-1] < 0.1  # the rule flipped


def test_the_baselines_run_on_the_same_windows(result):
    assert set(result.runs) == {PRODUCT, NEVER, SCHEDULE, ORACLE}
    assert all(len(run.scores) == len(result.windows) == 10 for run in result.runs.values())
    assert result.runs[NEVER].retrained == []
    assert result.runs[SCHEDULE].retrained == [3, 7]
    oracle = result.runs[ORACLE]
    assert oracle.retrained[0] == result.window_of(CHANGE)  # 500 post-change rows seen
    assert result.mean_after_changes(oracle) >= result.mean_after_changes(result.runs[NEVER])


def test_the_summary_table_and_the_page(result, tmp_path):
    rows = {row["strategy"]: row for row in result.summary()}
    assert rows[PRODUCT]["retrainings"] == len(result.runs[PRODUCT].retrained)
    assert rows[NEVER]["detection delays (windows)"] == [None]
    assert "product" in result.table().splitlines()[1]
    page = result.write_html(tmp_path / "bt.html").read_text(encoding="utf-8")
    assert 'id="backtest-chart"' in page and "Plotly.newPlot" in page
    assert "cdn" not in page.lower().split("<body>")[0]  # plotly.js is inlined, not fetched


def test_a_history_without_labels_is_refused():
    unlabelled = flipped_history(3000).drop(columns="target")
    with pytest.raises(Invalid, match="no labels in the target column 'target'"):
        backtest(unlabelled, config(), window_rows=500, initial_rows=1000)
    all_missing = flipped_history(3000).assign(target=np.nan)
    with pytest.raises(Invalid, match="no labels"):
        backtest(all_missing, config(), window_rows=500, initial_rows=1000)


@pytest.mark.parametrize(
    ("window_rows", "initial_rows", "words"),
    [(0, 1000, "window_rows: must be a positive"), (500, 2900, "initial_rows: 2900 rows")],
)
def test_impossible_windows_are_refused_naming_the_field(window_rows, initial_rows, words):
    with pytest.raises(Invalid, match=words):
        backtest(
            flipped_history(3000), config(), window_rows=window_rows, initial_rows=initial_rows
        )


def run_cli(*arguments, cwd):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("retrain")
    return subprocess.run(
        [str(script), "backtest", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_the_command_prints_the_table_and_writes_the_page(tmp_path):
    flipped_history(4500).to_csv(tmp_path / "history.csv", index=False)
    config = '{"min_training_samples": 500, "auto_promote": true}'
    done = run_cli(
        "history.csv", "--config", config, "--window-rows", "500", "--initial-rows", "2000",
        "--change-points", str(CHANGE), "--html", "page.html", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["strategy", "windows", "retrainings"]
    assert {line.split()[0] for line in lines[1:4]} == {"product", "never", "oracle"}
    assert (tmp_path / "page.html").read_text(encoding="utf-8").count("backtest-chart") >= 1


def test_the_command_refuses_unlabelled_history_in_one_line(tmp_path):
    flipped_history(3000).drop(columns="target").to_csv(tmp_path / "h.csv", index=False)
    done = run_cli("h.csv", "--window-rows", "500", "--initial-rows", "1000", cwd=tmp_path)
    assert done.returncode == 1  # refused (retraining/cli/errors.py)
    assert done.stderr.strip().count("\n") == 0
    assert "no labels in the target column 'target'" in done.stderr
