"""The public call and the fast drift check against a plain ``Report([DataDriftPreset()])``.

    python -m benchmarks.drift                              # 10k, 100k, 1M rows; about 15 min
    python -m benchmarks.drift --evidently-max-rows 100000  # skip Evidently at 1M (the slow part)
    python -m benchmarks.drift --sizes 10000 --no-doc       # a quick look, doc untouched
    python -m benchmarks.drift --no-public                  # the verdict only (no API, no SQLite)

The public call is what a user times: ``check_retraining_needed`` (a ``RetrainingScheduler``
on the embedded default) and ``GET /retraining/{model}/check`` against ``retrain api``, each
cold (the first in its process) and warm (the next), in the same run as Evidently on the same
frames; the check's Evidently page is rendered after the call returns, and how long after is
measured too.

Frames of 20 numeric and 5 categorical columns (reference seed 1, current seed 2), without and
with injected changes (mean shifts from 0.03 to 0.5 std, a scale change, a rarer level, an
unseen category, a missing-value jump). Every measurement runs in its own process, which builds
its data first and then measures: wall time, and peak resident memory above what the process
held before and the process's peak during the call (RSS sampled every 2 ms, data included).

* Evidently: ``Report([DataDriftPreset(columns)], include_tests=True)`` (the tests carry the
  per-column verdicts) on both frames with an explicit ``DataDefinition``, then the per-column
  results read from the snapshot; no HTML. Importing Evidently is measured apart.
* Fast: ``shared.drift.run_fast_drift`` from the saved profile file (loading it included),
  the reference data never touched; the profile's one-time build is measured apart. Above
  500,000 rows the default sampling applies; the exact variant is measured too.

Agreement: per column, Evidently's verdict against the fast check's stat-test verdict (its score
against the same threshold), on all columns and on those whose Evidently score is not within 5%
of the threshold; data-quality rules (missing-value jump, unseen categories) are listed apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import (
    MB,
    PeakMemory,
    command,
    emit,
    load_average,
    machine,
    machine_markdown,
    markdown_table,
    mb,
    now_text,
    release_free_memory,
    run_worker,
    seconds,
    text_table,
    update_doc,
)

MODULE = "benchmarks.drift"
SIZES = (10_000, 100_000, 1_000_000)
REFERENCE_SEED, CURRENT_SEED = 1, 2
NEAR = 0.05  # the issue's band: verdicts may differ within 5% of the threshold
TARGET_SPEEDUP, TARGET_PEAK_MB = 20, 600

LABELS = ("same", "shifted")  # indexed by `shifted`
TARGET_CALL_SPEEDUP = {100_000: 20, 1_000_000: 100}  # issue 12: the public call, warm

_LEVELS = np.array([f"level_{i}" for i in range(12)], dtype=object)


def make_frame(rows: int, seed: int, shifted: bool) -> pd.DataFrame:
    """20 numeric + 5 categorical columns; `shifted` injects the documented changes."""
    rng = np.random.default_rng(seed)

    def s(value: float) -> float:
        return value if shifted else 0.0

    numeric = {
        "num_00": rng.normal(50 + s(0.03) * 10, 10, rows),  # 0.03 std: no drift
        "num_01": rng.normal(50 + s(0.08) * 10, 10, rows),  # 0.08 std: close, below 0.1
        "num_02": rng.normal(50 + s(0.2) * 10, 10, rows),  # 0.2 std: drift
        "num_03": rng.lognormal(3 + s(0.4), 0.6, rows),  # log-normal, scale x1.5
        "num_04": rng.uniform(0 + s(0.5) * 28.9, 100 + s(0.5) * 28.9, rows),  # 0.5 std
        "num_05": rng.poisson(4 + s(1.0), rows).astype(np.int64),  # counts, mean 4 -> 5
        "num_06": rng.normal(0, 1 + s(0.3), rows),  # scale x1.3
        "num_07": (rng.random(rows) < 0.3 + s(0.1)).astype(np.int64),  # 0/1, 30% -> 40%
        "num_08": rng.exponential(2.0, rows),
        "num_09": rng.standard_t(5, rows),
        "num_10": np.where(rng.random(rows) < 0.05, np.nan, rng.normal(0, 1, rows)),
        "num_11": np.where(rng.random(rows) < 0.02 + s(0.28), np.nan, rng.normal(0, 1, rows)),
    }
    for index in range(12, 20):
        numeric[f"num_{index:02d}"] = rng.gamma(2.0 + index / 4, 3.0, rows)
    weights = np.linspace(2, 1, 8)
    p0 = weights / weights.sum()
    p0_shifted = p0[::-1] if shifted else p0
    cat_1 = _LEVELS[rng.integers(0, 6, rows)]
    if shifted:
        cat_1[rng.random(rows) < 0.03] = "unseen_level"  # 3%: reported, JS decides
    categorical = {
        "cat_0": _LEVELS[rng.choice(8, rows, p=p0_shifted)],  # level shares reversed
        "cat_1": cat_1,
        "cat_2": _LEVELS[rng.integers(0, 12, rows)],
        "cat_3": _LEVELS[rng.choice(3, rows, p=[0.6, 0.3, 0.1])],
        "cat_4": _LEVELS[(rng.random(rows) < 0.5).astype(np.int64)],
    }
    return pd.DataFrame({**numeric, **categorical})


# --- workers (one process per measurement) --------------------------------------------------------


def worker(spec: dict[str, Any]) -> None:
    kind, rows = spec["kind"], spec["rows"]
    if kind == "build":
        from shared.drift import ReferenceProfile

        reference = make_frame(rows, REFERENCE_SEED, False)
        release_free_memory()
        with PeakMemory() as memory:
            started = time.perf_counter()
            profile = ReferenceProfile.from_frame(reference, list(reference.columns))
            Path(spec["profile"]).write_bytes(profile.to_bytes())
            elapsed = time.perf_counter() - started
        emit(
            {
                "seconds": elapsed,
                "added": memory.added,
                "peak": memory.peak,
                "file_bytes": Path(spec["profile"]).stat().st_size,
            }
        )
    elif kind == "fast":
        from shared.drift import (
            THRESHOLDS,
            ReferenceProfile,
            exceeds_threshold,
            run_fast_drift,
        )

        current = make_frame(rows, CURRENT_SEED, spec["shifted"])
        options = {} if spec["sampling"] else {"sample_above": None}
        _warm_up(lambda ref, cur: run_fast_drift(ReferenceProfile.from_frame(ref, list(ref)), cur))
        release_free_memory()
        with PeakMemory() as memory:
            started = time.perf_counter()
            run = run_fast_drift(spec["profile"], current, **options)
            elapsed = time.perf_counter() - started
        columns = {}
        for item in run.result.columns:
            score, threshold = item.score, item.threshold
            stat = score is not None and exceeds_threshold(item.method, score, threshold)
            note = run.notes[item.column]
            columns[item.column] = {
                "method": item.method,
                "score": item.score,
                "threshold": THRESHOLDS.get(item.method),
                "drifted": item.drifted,
                "stat_drifted": bool(stat),
                "issue": item.issue,
                "sampled": note.sampled,
                "recomputed": note.recomputed,
            }
        emit(
            {
                "seconds": elapsed,
                "added": memory.added,
                "peak": memory.peak,
                "columns": columns,
                "drift_share": run.result.drift_share,
            }
        )
    elif kind == "setup":
        _setup_model(spec)
        emit({"home": spec["home"]})
    elif kind == "public":
        emit(_public_call(spec))
    elif kind == "api":
        emit(_api_call(spec))
    elif kind == "html":
        from shared.drift import (
            HTML_MAX_ROWS,
            ReferenceProfile,
            render_html_report,
            run_fast_drift,
        )

        current = make_frame(rows, CURRENT_SEED, spec["shifted"])
        result = run_fast_drift(spec["profile"], current).result
        profile = ReferenceProfile.from_bytes(Path(spec["profile"]).read_bytes())
        started = time.perf_counter()
        render_html_report(profile, current.head(2_000), result)  # imports Evidently
        first_seconds = time.perf_counter() - started
        release_free_memory()
        with PeakMemory() as memory:
            started = time.perf_counter()
            page = render_html_report(profile, current, result, drift_share=0.1)
            elapsed = time.perf_counter() - started
        emit(
            {
                "seconds": elapsed,
                "added": memory.added,
                "peak": memory.peak,
                "rows": HTML_MAX_ROWS,
                "html_bytes": len(page.encode("utf-8")),
                "first_seconds": first_seconds,
            }
        )
    elif kind == "evidently":
        started = time.perf_counter()
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        from shared.drift.evidently import _column_drifts

        import_seconds = time.perf_counter() - started
        reference = make_frame(rows, REFERENCE_SEED, False)
        current = make_frame(rows, CURRENT_SEED, spec["shifted"])
        names = list(reference.columns)
        numerical = [name for name in names if name.startswith("num_")]
        definition = DataDefinition(
            numerical_columns=numerical,
            categorical_columns=[name for name in names if name not in numerical],
            datetime_columns=[],
            text_columns=[],
            unknown_columns=[],
            list_columns=[],
        )  # every role given: Evidently infers nothing (as shared.drift.evidently does)

        def verdicts(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
            names = list(reference.columns)
            report = Report([DataDriftPreset(columns=names)], include_tests=True)
            snapshot = report.run(
                Dataset.from_pandas(current, data_definition=definition),
                Dataset.from_pandas(reference, data_definition=definition),
            )
            return _column_drifts(snapshot.dict(), names)

        with np.errstate(all="ignore"):
            _warm_up(verdicts)
        release_free_memory()
        with PeakMemory() as memory, np.errstate(all="ignore"):
            started = time.perf_counter()
            drifts = verdicts(reference, current)
            elapsed = time.perf_counter() - started
        emit(
            {
                "seconds": elapsed,
                "import_seconds": import_seconds,
                "added": memory.added,
                "peak": memory.peak,
                "columns": {
                    name: {
                        "method": drift.method,
                        "score": drift.score,
                        "threshold": drift.threshold,
                        "drifted": drift.drifted,
                    }
                    for name, drift in drifts.items()
                },
            }
        )
    else:
        raise ValueError(f"unknown worker kind {kind!r}")


# --- the public call: check_retraining_needed and GET /check, on the embedded default ---------

MODEL_NAME = "drift_bench"


def _settings(home: str):
    from shared.settings import Settings

    return Settings.from_env({"RETRAINING_HOME": home})


def _scheduler(home: str):
    """The model as a user's script has it: a scheduler on a data directory (no champion)."""
    from retraining.scheduler import RetrainingConfig, RetrainingScheduler
    from training.pipeline import TrainingPipeline

    config = RetrainingConfig(model_name=MODEL_NAME, min_samples_for_check=100)
    return RetrainingScheduler(
        config,
        _no_training_data,
        TrainingPipeline(MODEL_NAME),
        settings=_settings(home),
    )


def _no_training_data() -> pd.DataFrame:
    raise RuntimeError("the drift benchmark trains nothing")


def _setup_model(spec: dict[str, Any]) -> None:
    """The model, its monitors on the reference frame, and the current frames as files."""
    scheduler = _scheduler(spec["home"])
    scheduler.initialize_monitors(make_frame(spec["rows"], REFERENCE_SEED, False))
    for shifted, path in spec["current_files"].items():
        make_frame(spec["rows"], CURRENT_SEED, shifted == "shifted").to_parquet(path, index=False)
    scheduler.runtime.dispose()


def _public_call(spec: dict[str, Any]) -> dict[str, Any]:
    """``check_retraining_needed`` cold (the first in a process that only built its scheduler)
    and warm (the next one), each followed by its page rendering in the background."""
    from benchmarks.common import max_rss_bytes
    from shared.check_pages import background_idle

    scheduler = _scheduler(spec["home"])
    current = make_frame(spec["rows"], CURRENT_SEED, spec["shifted"])
    out: dict[str, Any] = {}
    release_free_memory()
    whole = PeakMemory()  # both calls and their pages, after the frame was built
    whole.__enter__()
    for label in ("cold", "warm"):
        release_free_memory()
        with PeakMemory() as memory:
            started = time.perf_counter()
            answer = scheduler.check_retraining_needed(current)
            elapsed = time.perf_counter() - started
        started = time.perf_counter()
        background_idle(1800)  # the page, rendered after the call returned
        page_seconds = time.perf_counter() - started
        out[label] = {
            "seconds": elapsed,
            "added": memory.added,
            "peak": memory.peak,
            "page_seconds": page_seconds,
            "needs_retraining": bool(answer),
            "drift_share": scheduler.last_check.drift_share,
        }
    whole.__exit__(None, None, None)
    out["process_peak"] = whole.peak  # this process while checking and its pages rendered
    out["life_peak"] = max_rss_bytes()  # building the frame included
    page = scheduler.check_report_path()
    out["page_bytes"] = Path(page).stat().st_size
    scheduler.runtime.dispose()
    return out


def _api_call(spec: dict[str, Any]) -> dict[str, Any]:
    """``GET /retraining/{model}/check`` end to end against ``retrain api`` (embedded: the
    check runs in the API process on the model's current source, a Parquet file), cold (the
    server's first check) and warm (the next), then the page as a client polls for it."""
    import uuid

    import requests

    from benchmarks.api import server_pids, wait_ready
    from benchmarks.common import child_env, free_port, start_process, stop_process
    from shared.runtime import Runtime
    from shared.sources import validate_source

    runtime = Runtime(_settings(spec["home"]))
    source = validate_source("current", {"kind": "file", "path": spec["current_file"]})
    runtime.models.set_data_sources(MODEL_NAME, {"current": source})
    runtime.dispose()
    token, port = uuid.uuid4().hex, free_port()
    base = f"http://127.0.0.1:{port}"
    env = child_env(RETRAINING_HOME=spec["home"], RETRAINING_API_TOKENS=token)
    log = Path(spec["home"]) / f"api-{port}.log"
    server = start_process(
        [sys.executable, "-m", "retraining.cli", "api", "--port", str(port)], log, env
    )
    headers = {"Authorization": f"Bearer {token}"}
    out: dict[str, Any] = {}
    try:
        wait_ready(base, server, timeout=120)
        for label in ("cold", "warm"):
            started = time.perf_counter()
            answer = requests.get(
                f"{base}/retraining/{MODEL_NAME}/check?wait=30", headers=headers, timeout=120
            )
            body = answer.json()
            while body.get("status") in ("pending", "running"):  # past `wait`: poll it
                time.sleep(0.05)
                body = requests.get(f"{base}{body['links']['self']}", headers=headers).json()
            elapsed = time.perf_counter() - started
            if body.get("status") != "completed":
                raise RuntimeError(f"the check did not complete: {body}")
            started = time.perf_counter()
            while True:  # the page, as a client waiting for it sees it (202 while rendering)
                page = requests.get(f"{base}{body['links']['report']}", headers=headers)
                if page.status_code != 202:
                    break
                time.sleep(0.1)
            if page.status_code != 200:
                raise RuntimeError(f"the page answered {page.status_code}: {page.text[:300]}")
            out[label] = {
                "seconds": elapsed,
                "check_seconds": body["duration_seconds"],  # the server's, source read included
                "page_seconds": time.perf_counter() - started,
                "drift_share": body["drift_score"],
            }
        out["server_peak"] = max(_peak_rss(pid) for pid in server_pids(server.pid))
    finally:
        stop_process(server)
    return out


def _peak_rss(pid: int) -> int:
    """A process's peak resident memory so far (VmHWM), 0 when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _warm_up(check) -> None:
    """One small check first: lazy imports and first-call costs are not what is measured."""
    check(make_frame(2_000, 7, False), make_frame(2_000, 8, True))


# --- comparison and report ------------------------------------------------------------------------


def compare(evidently: dict[str, Any], fast: dict[str, Any]) -> dict[str, Any]:
    """Per-column agreement of Evidently's verdicts with the fast check's stat-test verdicts."""
    agree = agree_outside = outside = 0
    differences, methods_equal, score_gaps = [], True, []
    for name, expected in evidently["columns"].items():
        got = fast["columns"][name]
        methods_equal &= got["method"] == expected["method"]
        same = got["stat_drifted"] == expected["drifted"]
        agree += same
        near = (
            expected["score"] is not None
            and abs(expected["score"] - expected["threshold"]) <= NEAR * expected["threshold"]
        )
        if not near:
            outside += 1
            agree_outside += same
        if not same:
            differences.append(name)
        if expected["score"] is not None and got["score"] is not None:
            score_gaps.append(abs(expected["score"] - got["score"]))
    return {
        "agree": agree,
        "total": len(evidently["columns"]),
        "agree_outside": agree_outside,
        "outside": outside,
        "differences": differences,
        "methods_equal": methods_equal,
        "max_score_gap": max(score_gaps) if score_gaps else None,
    }


def run(
    sizes: list[int], evidently_max_rows: int, workdir: Path, public: bool = True
) -> dict[str, Any]:
    from shared.drift import SAMPLE_ABOVE

    results: dict[str, Any] = {"builds": {}, "cases": []}
    for rows in sizes:
        profile = workdir / f"profile-{rows}.npz"
        build = run_worker(MODULE, {"kind": "build", "rows": rows, "profile": str(profile)})
        results["builds"][rows] = build
        print(f"{rows:>9,} rows: profile built in {build['seconds']:.2f} s", flush=True)
        home = workdir / f"home-{rows}"
        files = {label: str(workdir / f"current-{rows}-{label}.parquet") for label in LABELS}
        if public:
            home.mkdir()
            setup = {"kind": "setup", "rows": rows, "home": str(home), "current_files": files}
            run_worker(MODULE, setup)
        for shifted in (False, True):
            case: dict[str, Any] = {"rows": rows, "shifted": shifted}
            base = {"rows": rows, "shifted": shifted, "profile": str(profile)}
            if public:
                call = {**base, "home": str(home), "current_file": files[LABELS[shifted]]}
                case["public"] = run_worker(MODULE, {**call, "kind": "public"})
                case["api"] = run_worker(MODULE, {**call, "kind": "api"})
            case["fast"] = run_worker(MODULE, {**base, "kind": "fast", "sampling": True})
            if rows > SAMPLE_ABOVE:
                case["fast_exact"] = run_worker(MODULE, {**base, "kind": "fast", "sampling": False})
            if rows <= evidently_max_rows:
                case["evidently"] = run_worker(MODULE, {**base, "kind": "evidently"})
                case["agreement"] = compare(case["evidently"], case["fast"])
                if "fast_exact" in case:
                    case["agreement_exact"] = compare(case["evidently"], case["fast_exact"])
            if shifted and rows == max(sizes):  # the HTML on bounded samples, once
                results["html"] = run_worker(MODULE, {**base, "kind": "html"})
                results["html"]["data_rows"] = rows
            results["cases"].append(case)
            ev = case.get("evidently", {}).get("seconds")
            calls = ""
            if public:
                calls = (
                    f", check_retraining_needed {case['public']['warm']['seconds']:.2f} s warm "
                    f"({case['public']['cold']['seconds']:.2f} s cold), GET /check "
                    f"{case['api']['warm']['seconds']:.2f} s warm "
                    f"({case['api']['cold']['seconds']:.2f} s cold)"
                )
            print(
                f"{rows:>9,} rows, {LABELS[shifted]:<7}: fast {case['fast']['seconds']:.2f} s, "
                f"Evidently {seconds(ev)} s{calls}",
                flush=True,
            )
    return results


HEADERS = [
    "rows",
    "data",
    "Evidently s",
    "Evidently MB (added / process)",
    "fast s",
    "fast MB (added / process)",
    "speed-up",
    "verdicts agree",
    "agree outside 5% band",
    "drifted (Ev / fast)",
    "max score gap",
]


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for case in results["cases"]:
        for variant in ("fast", "fast_exact"):
            if variant not in case:
                continue
            fast, ev = case[variant], case.get("evidently")
            agreement = case.get("agreement" if variant == "fast" else "agreement_exact")
            label = "shifted" if case["shifted"] else "same"
            if variant == "fast_exact":
                label += " (exact)"
            drifted_fast = sum(c["drifted"] for c in fast["columns"].values())
            rows.append(
                [
                    f"{case['rows']:,}",
                    label,
                    seconds(ev["seconds"]) if ev else "not run",
                    f"{mb(ev['added'])} / {mb(ev['peak'])}" if ev else "-",
                    seconds(fast["seconds"]),
                    f"{mb(fast['added'])} / {mb(fast['peak'])}",
                    f"{ev['seconds'] / fast['seconds']:.0f}x" if ev else "-",
                    f"{agreement['agree']}/{agreement['total']}" if agreement else "-",
                    f"{agreement['agree_outside']}/{agreement['outside']}" if agreement else "-",
                    (
                        f"{sum(c['drifted'] for c in ev['columns'].values())} / {drifted_fast}"
                        if ev
                        else f"- / {drifted_fast}"
                    ),
                    _gap(agreement),
                ]
            )
    return rows


CALL_HEADERS = [
    "rows",
    "data",
    "Evidently s",
    "verdict only s",
    "check_retraining_needed s (warm / cold)",
    "speed-up (warm)",
    "GET /check s (warm / cold)",
    "speed-up (warm)",
    "of which the check on the server s (warm)",
    "page ready s after the call (warm / cold)",
    "call MB (added / process)",
    "process peak MB (Python while checking, pages included / API server)",
]


def call_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for case in results["cases"]:
        if "public" not in case:
            continue
        public, api, ev = case["public"], case["api"], case.get("evidently")
        warm = public["warm"]

        def ratio(measured: float, ev=ev) -> str:
            return f"{ev['seconds'] / measured:.0f}x" if ev else "-"

        rows.append(
            [
                f"{case['rows']:,}",
                LABELS[case["shifted"]],
                seconds(ev["seconds"]) if ev else "not run",
                seconds(case["fast"]["seconds"]),
                f"{seconds(warm['seconds'])} / {seconds(public['cold']['seconds'])}",
                ratio(warm["seconds"]),
                f"{seconds(api['warm']['seconds'])} / {seconds(api['cold']['seconds'])}",
                ratio(api["warm"]["seconds"]),
                seconds(api["warm"].get("check_seconds")),
                f"{warm['page_seconds']:.1f} / {public['cold']['page_seconds']:.1f}",
                f"{mb(warm['added'])} / {mb(warm['peak'])}",
                f"{mb(public['process_peak'])} / {mb(api['server_peak'])}",
            ]
        )
    return rows


def call_verdict_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for case in results["cases"]:
        target = TARGET_CALL_SPEEDUP.get(case["rows"])
        if "public" not in case or target is None:
            continue
        label = f"{case['rows']:,} rows, {LABELS[case['shifted']]} data"
        public, api, ev = case["public"], case["api"], case.get("evidently")
        if ev:
            for name, measured in (
                ("check_retraining_needed", public["warm"]["seconds"]),
                ("GET /check", api["warm"]["seconds"]),
            ):
                speedup = ev["seconds"] / measured
                met = "met" if speedup >= target else "NOT met"
                lines.append(
                    f"- {label}: {name} (warm) {speedup:.0f}x faster than the plain report: "
                    f"target >= {target}x {met}."
                )
        peak = public["warm"]["peak"] / MB
        whole = public["process_peak"] / MB
        lines.append(
            f"- {label}: check_retraining_needed peak {peak:,.0f} MB for the whole process "
            f"during the warm call (the {case['rows']:,}-row current frame and the libraries "
            f"included), {whole:,.0f} MB over both calls with their pages rendered (in a "
            f"child process): target < {TARGET_PEAK_MB} MB "
            f"{'met' if max(peak, whole) < TARGET_PEAK_MB else 'NOT met'}."
        )
    return lines


def _gap(agreement: dict[str, Any] | None) -> str:
    if not agreement or agreement["max_score_gap"] is None:
        return "-"
    return f"{agreement['max_score_gap']:.1e}"


def detail_rows(case: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, expected in case["evidently"]["columns"].items():
        got = case["fast"]["columns"][name]
        how = "sampled" if got["sampled"] else "recomputed" if got["recomputed"] else "exact"
        rows.append(
            [
                name,
                expected["method"],
                _score(expected["score"]),
                "yes" if expected["drifted"] else "no",
                _score(got["score"]),
                how,
                "yes" if got["drifted"] else "no",
                got["issue"] or "",
            ]
        )
    return rows


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def build_rows(results: dict[str, Any]) -> list[list[str]]:
    return [
        [
            f"{rows:,}",
            seconds(build["seconds"]),
            f"{mb(build['added'])} / {mb(build['peak'])}",
            f"{build['file_bytes'] / MB:.1f}",
        ]
        for rows, build in results["builds"].items()
    ]


def verdict_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    largest = max(results["builds"])
    for case in results["cases"]:
        if case["rows"] != largest:
            continue
        fast, ev = case["fast"], case.get("evidently")
        label = f"{largest:,} rows, {'shifted' if case['shifted'] else 'same'} data"
        peak = fast["peak"] / MB
        lines.append(
            f"- {label}: fast check peak {peak:,.0f} MB for the whole process (the current "
            f"frame included; {fast['added'] / MB:,.0f} MB added by the check): target "
            f"< {TARGET_PEAK_MB} MB {'met' if peak < TARGET_PEAK_MB else 'NOT met'}."
        )
        if ev:
            ratio = ev["seconds"] / fast["seconds"]
            agreement = case["agreement"]
            lines.append(
                f"- {label}: {ratio:.0f}x faster than the plain report: target "
                f">= {TARGET_SPEEDUP}x {'met' if ratio >= TARGET_SPEEDUP else 'NOT met'}; "
                f"verdicts identical on {agreement['agree_outside']} of {agreement['outside']} "
                "columns outside the 5% band"
                + ("" if not agreement["differences"] else f" (differ: {agreement['differences']})")
                + "."
            )
    return lines


def markdown(results: dict[str, Any], info, started, loads, cmd) -> str:
    parts = [
        "## drift: fast check vs `Report([DataDriftPreset()])`",
        "",
        machine_markdown(info, started, loads, cmd),
        "Frames of 20 numeric + 5 categorical columns; `same`: reference and current drawn "
        "from one distribution (seeds 1 and 2); `shifted`: 0.03, 0.08 and 0.2 std mean "
        "shifts, a log-normal scale x1.5, a 0.5 std uniform shift, Poisson mean 4 -> 5, a "
        "scale x1.3, a 0/1 rate 30% -> 40%, a missing-value jump 2% -> 30%, reversed level "
        "shares, a 3% unseen category. Times are wall seconds to the per-column verdicts in "
        "a warm process (one 2,000-row check first in each process: imports and first-call "
        f"costs excluded; importing Evidently took {results['import_seconds']}); the fast "
        "check's profile loading is included. MB: peak resident memory added by the measured "
        "call / the process's peak resident memory during the call (libraries and input "
        "frames included: the Evidently process holds reference and current, the fast one "
        "only current). `(exact)`: the fast check with sampling off. Agreement compares "
        "Evidently's verdict with the fast check's stat-test verdict (its score against the "
        "same threshold); the fast check's data-quality rules (missing-value jump, unseen "
        "categories >= 5%) can add drift on top, as listed in the detail table.",
        "",
        markdown_table(HEADERS, table_rows(results)),
        "",
        "Targets (issue 5):",
        "",
        *verdict_lines(results),
        "",
        "Profile build (once per reference, at `initialize_monitors`):",
        "",
        markdown_table(
            ["reference rows", "build + save s", "MB (added / process)", "file MB"],
            build_rows(results),
        ),
    ]
    if any("public" in case for case in results["cases"]):
        parts += [
            "",
            "### The public call: `check_retraining_needed` and `GET /check`",
            "",
            "Each case in the same run as the table above (the same frames; Evidently's and "
            "the verdict-only times are the columns above). `check_retraining_needed`: a "
            "`RetrainingScheduler` on the embedded default (SQLite under a fresh "
            "`RETRAINING_HOME`, monitors initialized on the reference by another process), "
            "in a fresh process: cold is its first call (the profile read from the blob store "
            "and parsed, the check's lazy imports), warm the next one; each call stores its "
            "verdict and the page's current sample and returns, and the page is rendered by "
            "a child process of the background thread after it (`page ready`: from the "
            "call's return until the page is stored, waited for before the next call). "
            "`GET /check`: `retrain api` (embedded, the check on its check thread) with the "
            "model's `current` source a Parquet file of the current frame; the client's time from "
            "the request until it holds the completed check (the file read included), cold "
            "the server's first check, warm the next; `page ready` is the client polling "
            "the page (202 while it renders) after the verdict; `of which the check`: the "
            "check's own `duration_seconds` on the server (reading the 1,000,000-row source "
            "file included, which the Evidently column does not pay). MB: the warm call's peak "
            "resident memory added / the process's during the call; the Python process's peak "
            "over both calls and their pages (rendered by a child process, so Evidently never "
            "enters it), and the API server's over its life (VmHWM: its source reads "
            "included; its pages are rendered by a child too).",
            "",
            markdown_table(CALL_HEADERS, call_rows(results)),
            "",
            "Targets (issue 12):",
            "",
            *call_verdict_lines(results),
        ]
    if "html" in results:
        html = results["html"]
        parts += [
            "",
            f"Evidently's HTML report for a stored check (off the call's path: rendered after "
            f"the verdict is stored), {html['data_rows']:,} current rows, shifted data: "
            f"{html['seconds']:.1f} s and {html['added'] / MB:,.0f} MB added, on seeded "
            f"samples of at most {html['rows']:,} reference and current rows "
            f"(`shared.drift.render_html_report`); page {html['html_bytes'] / MB:.1f} MB. "
            f"The first report in a process also imports Evidently: "
            f"{html['first_seconds']:.1f} s.",
        ]
    detailed = [c for c in results["cases"] if c["shifted"] and "evidently" in c]
    if detailed:
        case = max(detailed, key=lambda c: c["rows"])
        parts += [
            "",
            f"Per column, {case['rows']:,} rows, shifted data:",
            "",
            markdown_table(
                [
                    "column",
                    "method",
                    "Evidently score",
                    "Evidently drift",
                    "fast score",
                    "fast score from",
                    "fast drift",
                    "fast issue",
                ],
                detail_rows(case),
            ),
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sizes",
        default=",".join(str(size) for size in SIZES),
        help="comma-separated row counts (default: %(default)s)",
    )
    parser.add_argument(
        "--evidently-max-rows",
        type=int,
        default=max(SIZES),
        help="run the Evidently baseline only up to this many rows (default: %(default)s)",
    )
    parser.add_argument(
        "--no-public",
        action="store_true",
        help="skip the public call (check_retraining_needed, GET /check): verdict only",
    )
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    info, started, load_before = machine(), now_text(), load_average()
    print(f"drift benchmark, {started}, load average {load_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as workdir:
        results = run(sizes, args.evidently_max_rows, Path(workdir), not args.no_public)
    imports = [c["evidently"]["import_seconds"] for c in results["cases"] if "evidently" in c]
    results["import_seconds"] = (
        f"{min(imports):.1f} to {max(imports):.1f} s per process" if imports else "not measured"
    )
    loads = (load_before, load_average())
    print()
    print(text_table(HEADERS, table_rows(results)))
    print()
    print("\n".join(verdict_lines(results)))
    if not args.no_public:
        print()
        print(text_table(CALL_HEADERS, call_rows(results)))
        print()
        print("\n".join(call_verdict_lines(results)))
    if "html" in results:
        html = results["html"]
        print(
            f"HTML report on bounded samples ({html['data_rows']:,} rows): "
            f"{html['seconds']:.1f} s, {html['added'] / MB:,.0f} MB added"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if not args.no_doc:
        cmd = command(MODULE)
        path = update_doc("drift", markdown(results, info, started, loads, cmd))
        print(f"\nwritten to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
