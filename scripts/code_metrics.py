"""Size and import cost of the product's code: what the architecture notes are measured with.

    .venv/bin/python scripts/code_metrics.py

Prints the ten largest modules (lines), the ten longest functions (lines), and for ``api``
and ``workers.tasks``: the median import time in a fresh interpreter (5 runs) and which of
scikit-learn, MLflow and Evidently that import loads.
"""

from __future__ import annotations

import ast
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("shared", "api", "workers", "retraining", "training")
HEAVY = ("sklearn", "mlflow", "evidently")
_PROBE = """
import sys, time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(elapsed, ",".join(name for name in {heavy!r} if name in sys.modules))
"""


def product_files() -> list[Path]:
    files = [REPO / "beat_schedule.py"]
    for package in PRODUCT:
        files += sorted((REPO / package).rglob("*.py"))
    return files


def largest_modules(files: list[Path], count: int = 10) -> list[tuple[int, str]]:
    sizes = [(len(path.read_text().splitlines()), str(path.relative_to(REPO))) for path in files]
    return sorted(sizes, reverse=True)[:count]


def longest_functions(files: list[Path], count: int = 10) -> list[tuple[int, str]]:
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                found.append((length, f"{path.relative_to(REPO)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)[:count]


def import_cost(module: str, runs: int = 5) -> tuple[float, str]:
    times, loaded = [], ""
    for _ in range(runs):
        output = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
            # the Celery app is built from the environment; nothing connects at import
            env={**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"},
        ).stdout.split()
        times.append(float(output[0]))
        loaded = output[1] if len(output) > 1 else "none"
    return statistics.median(times), loaded


def main() -> None:
    files = product_files()
    print(f"{len(files)} modules, {sum(len(p.read_text().splitlines()) for p in files)} lines")
    print("\nlargest modules (lines):")
    for lines, name in largest_modules(files):
        print(f"  {lines:5d}  {name}")
    print("\nlongest functions (lines):")
    for lines, name in longest_functions(files):
        print(f"  {lines:5d}  {name}")
    print("\nimport in a fresh interpreter (median of 5):")
    for module in ("api.app", "workers.tasks"):
        seconds, loaded = import_cost(module)
        print(f"  {module:15s} {seconds:.2f} s; heavy libraries loaded: {loaded}")


if __name__ == "__main__":
    main()
