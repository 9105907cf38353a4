"""What ``retrain`` prints: rich tables for people, or ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

_NOTE_WIDTH = 60


def console() -> Console:
    # wide enough that a table piped to a file or a test is not cut to 80 columns
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def when(moment: str | None) -> str:
    """An ISO time as ``2026-03-08 02:00:00Z`` (UTC), or a dash."""
    if not moment:
        return "-"
    text = moment.replace("T", " ").replace("+00:00", "Z")
    text = text.split(".")[0] + ("Z" if text.endswith("Z") and "." in text else "")
    return text if text.endswith("Z") else text + "Z"


def short(text: Any, width: int = _NOTE_WIDTH) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def metric(job: dict[str, Any]) -> str:
    """The job's first metric (the primary one when it is known), as ``name value``."""
    metrics = job.get("metrics") or {}
    name = (job.get("details") or {}).get("primary_metric") or next(iter(metrics), None)
    if name is None or metrics.get(name) is None:
        return "-"
    return f"{name} {metrics[name]:.4g}"


def models_table(models: list[dict[str, Any]]) -> Table:
    table = Table("model", "champion", "task", "monitors", "next scheduled run", "monitoring")
    for model in models:
        schedule, monitoring = model.get("schedule") or {}, model.get("monitoring") or {}
        table.add_row(
            model["model_name"],
            f"v{model['champion_version']}" if model.get("champion_version") else "-",
            model.get("task") or "-",
            "yes" if model.get("monitors_initialized") else "no",
            when(schedule.get("next_run_at")) if schedule.get("enabled") else "off",
            f"every {monitoring['check_interval_seconds']} s"
            if monitoring.get("active")
            else "off",
        )
    return table


def print_status(status: dict[str, Any], where: str) -> None:
    out = console()
    database, broker = status.get("database") or {}, status.get("broker") or {}
    workers = status.get("workers") or {}
    out.print(f"[bold]{status.get('mode', '?')}[/bold] mode: {where}")
    out.print(f"database: {database.get('url', '-')} ({_reachable(database)})")
    line = f"broker: {broker.get('kind', '-')}"
    if workers:
        line += f"; workers alive: {workers.get('alive', 0)}"
    out.print(line)
    counts = status.get("jobs") or {}
    out.print("jobs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    table = Table("model", "champion", "active job", "next scheduled run", "monitoring")
    for model in status.get("models") or []:
        schedule, monitoring = model.get("schedule") or {}, model.get("monitoring") or {}
        table.add_row(
            model["model_name"],
            f"v{model['champion_version']}" if model.get("champion_version") else "-",
            model.get("active_job_id") or "-",
            when(schedule.get("next_run_at")) if schedule.get("enabled") else "off",
            when(monitoring.get("next_run_at")) if monitoring.get("active") else "off",
        )
    out.print(table if table.row_count else "no models yet: configure one (README: Quick start)")


def _reachable(component: dict[str, Any]) -> str:
    return "reachable" if component.get("reachable", True) else "UNREACHABLE"


def jobs_table(model: str, jobs: list[dict[str, Any]]) -> Table:
    table = Table(title=f"jobs of {model}, newest first")
    table.add_column("job", no_wrap=True, min_width=36)  # the id to copy: never cut
    for name in ("status", "trigger", "created", "duration", "metric", "version", "note"):
        table.add_column(name)
    for job in jobs:
        note = job.get("error") or job.get("promotion_reason") or job.get("reason")
        duration = job.get("duration_seconds")
        table.add_row(
            job["job_id"],
            _status(job["status"], job.get("promoted")),
            job["trigger"],
            when(job.get("created_at")),
            f"{duration:.1f} s" if duration is not None else "-",
            metric(job),
            job.get("model_version") or "-",
            short(note),
        )
    return table


def promotions_table(model: str, entries: list[dict[str, Any]]) -> Table:
    table = Table(title=f"promotion ledger of {model}, newest first")
    for name in ("at", "kind", "from", "to", "trigger", "by", "job", "reason"):
        table.add_column(name)
    for entry in entries:
        table.add_row(
            when(entry.get("at")),
            entry["kind"],
            entry.get("from_version") or "-",
            entry.get("to_version") or "-",
            entry["trigger"],
            entry.get("actor") or "-",
            (entry.get("job_id") or "-")[:8],
            short(entry.get("reason")),
        )
    return table


def _status(status: str, promoted: bool | None) -> str:
    colour = {"completed": "green", "failed": "red"}.get(status, "yellow")
    extra = " (promoted)" if promoted else ""
    return f"[{colour}]{status}[/{colour}]{extra}"


def print_job(job: dict[str, Any]) -> None:
    out = console()
    out.print(f"job {job['job_id']} of {job['model_name']}: {_status(job['status'], None)}")
    rows = [
        ("trigger", f"{job['trigger']}: {job.get('reason') or ''}"),
        ("created", when(job.get("created_at"))),
        ("started", when(job.get("start_time"))),
        ("ended", when(job.get("end_time"))),
        ("attempt", str(job.get("attempt") or "-")),
    ]
    if job.get("error"):
        rows.append(("error", str(job["error"])))
    if job.get("model_version"):
        rows.append(("model version", str(job["model_version"])))
    if job.get("promotion_reason"):
        rows.append(
            ("promoted" if job.get("promoted") else "not promoted", job["promotion_reason"])
        )
    table = Table(show_header=False, box=None)
    for name, value in rows:
        table.add_row(f"[bold]{name}[/bold]", value)
    out.print(table)
    if job.get("metrics"):
        scores = Table("metric", "new model", "champion", title="scores on the same holdout")
        champion = job.get("champion_metrics") or {}
        for name, value in job["metrics"].items():
            scores.add_row(name, _number(value), _number(champion.get(name)))
        out.print(scores)
    if job.get("events"):
        events = Table("at", "event", "detail", title="audit trail")
        for event in job["events"]:
            change = (
                event.get("to_status")
                and f"{event.get('from_status') or '-'} -> {event['to_status']}"
            )
            detail = (event.get("details") or {}).get("reason") or (event.get("details") or {}).get(
                "error"
            )
            events.add_row(when(event.get("at")), change or event["kind"], short(detail))
        out.print(events)


def print_check(check: dict[str, Any]) -> None:
    out = console()
    out.print(
        f"check {check['check_id']} of {check['model_name']}: {_status(check['status'], None)}"
    )
    if check.get("error"):
        out.print(f"[red]{check['error']}[/red]")
        return
    verdict = "retraining needed" if check.get("needs_retraining") else "no retraining needed"
    out.print(
        f"[bold]{verdict}[/bold]" + (f" ({check['trigger']})" if check.get("trigger") else "")
    )
    out.print(check.get("reason") or "")
    columns = check.get("columns") or ((check.get("drift") or {}).get("columns")) or []
    if columns:
        table = Table("column", "test", "score", "threshold", "drifted", "issue")
        for column in columns:
            table.add_row(
                str(column.get("column")),
                str(column.get("method") or "-"),
                _number(column.get("score")),
                _number(column.get("threshold")),
                "[red]yes[/red]" if column.get("drifted") else "no",
                short(column.get("issue") or ""),
            )
        out.print(table)


def _number(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
