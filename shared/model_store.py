"""Per-model state: configuration, monitors' baseline, champion, and schedules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from shared.clock import utcnow
from shared.config import RetrainingConfig
from shared.db.engine import transaction
from shared.db.schema import models
from shared.enums import Task
from shared.errors import Conflict, NotFound
from shared.events import record_event

_ANY: Any = object()  # no condition on the current champion


class UnknownModel(NotFound):
    title = "Unknown model"

    def __init__(self, name: str) -> None:
        super().__init__(f"no model named {name!r} is configured")
        self.name = name


class NoChampion(Conflict, RuntimeError):
    """Nothing to predict with or to compare against: no model has been trained yet."""


@dataclass(frozen=True)
class ModelRecord:
    name: str
    config: RetrainingConfig
    pipeline: dict[str, Any]
    task: Task | None
    feature_columns: list[str] | None
    baseline_metrics: dict[str, float] | None
    reference_key: str | None  # the reference data's blob (shared.drift.store)
    champion_version: str | None
    champion_run_id: str | None
    champion_metrics: dict[str, float] | None
    champion_diagnostics: dict[str, Any] | None  # shared.diagnostics: importances, calibration
    data_sources: dict[str, Any]
    schedule_next_run_at: datetime | None
    monitoring_interval_seconds: int | None
    monitoring_next_run_at: datetime | None

    @property
    def monitors_initialized(self) -> bool:
        return self.reference_key is not None

    def require_champion(self) -> str:
        """The champion's version; ``NoChampion`` before the first training."""
        if self.champion_version is None or not self.feature_columns:
            raise NoChampion(f"model {self.name!r} has no champion yet: trigger a retraining")
        return self.champion_version


class ModelRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def save_config(self, config: RetrainingConfig, pipeline: dict[str, Any]) -> ModelRecord:
        """Create the model or replace its configuration and pipeline (the event records it)."""
        name = config.model_name
        values = {"config": config.to_dict(), "pipeline": pipeline, "updated_at": utcnow()}
        with self.engine.begin() as connection:
            old = connection.execute(
                sa.select(models.c.config).where(models.c.name == name)
            ).scalar_one_or_none()
            if old is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            models.insert().values(
                                name=name, created_at=utcnow(), data_sources={}, **values
                            )
                        )
                except IntegrityError:  # created concurrently: fall through to an update
                    old = {}
            if old is not None:
                connection.execute(models.update().where(models.c.name == name).values(**values))
            if old != values["config"]:
                record_event(connection, name, "configured", details={"config": values["config"]})
        return self.get(name)

    def find(self, name: str) -> ModelRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(models).where(models.c.name == name)).mappings()
            row = row.first()
        return None if row is None else _to_record(row)

    def get(self, name: str) -> ModelRecord:
        record = self.find(name)
        if record is None:
            raise UnknownModel(name)
        return record

    def hold_champion(
        self, name: str, expected_version: str | None, connection: Connection
    ) -> bool:
        """Compare-and-lock: True if the champion is still ``expected_version`` (None: none
        yet). The row is then written (locked) in ``connection``'s transaction, so no one else
        changes the champion before that transaction ends."""
        result = connection.execute(
            models.update()
            .where(
                models.c.name == name,
                models.c.champion_version.is_not_distinct_from(expected_version),
            )
            .values(updated_at=utcnow())
        )
        return result.rowcount == 1

    def champion_of(self, name: str, connection: Connection | None = None) -> str | None:
        """The champion's version as the database has it now (in ``connection`` when given)."""
        query = sa.select(models.c.champion_version).where(models.c.name == name)
        with transaction(self.engine, connection) as connection:
            return connection.execute(query).scalar_one_or_none()

    def list(self) -> list[ModelRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(models).order_by(models.c.name)).mappings().all()
        return [_to_record(row) for row in rows]

    def set_monitors(
        self, name: str, reference_key: str, baseline_metrics: dict[str, float]
    ) -> None:
        self._update(
            name,
            "monitors_initialized",
            {"reference_key": reference_key, "baseline_metrics": baseline_metrics},
        )

    def set_champion(
        self,
        name: str,
        *,
        version: str,
        run_id: str,
        metrics: dict[str, float],
        task: Task,
        feature_columns: list[str],
        details: dict[str, Any],
        monitors: tuple[str, dict[str, float]] | None = None,
        diagnostics: dict[str, Any] | None = None,
        job_id: str | None = None,
        connection: Connection | None = None,
        event_kind: str = "promotion",
        expected_version: str | None = _ANY,
    ) -> bool:
        """Make ``version`` the champion; inside ``connection``'s transaction when given.

        ``monitors``: the new (reference_key, baseline_metrics) that follow the champion;
        ``event_kind``: the audit event's (a rollback says so).
        ``expected_version``: compare-and-set, only if the champion is still that version
        (None: no champion yet); False, and nothing changed, when it is not.
        """
        values: dict[str, Any] = {
            "champion_version": version,
            "champion_run_id": run_id,
            "champion_metrics": metrics,
            "task": str(task),
            "feature_columns": feature_columns,
            "champion_diagnostics": diagnostics,
        }
        if monitors is not None:
            values["reference_key"], values["baseline_metrics"] = monitors
        return self._update(
            name,
            event_kind,
            values,
            details=details,
            job_id=job_id,
            connection=connection,
            expected_champion=expected_version,
        )

    def set_data_sources(self, name: str, sources: dict[str, Any]) -> None:
        """Replace the named sources (training, reference, current), keeping the others."""
        current = self.get(name).data_sources
        self._update(name, "data_sources_set", {"data_sources": {**current, **sources}})

    def set_schedule(self, name: str, next_run_at: datetime | None) -> None:
        self._update(name, "schedule_set", {"schedule_next_run_at": next_run_at})

    def set_monitoring(
        self, name: str, interval_seconds: int | None, next_run_at: datetime | None
    ) -> None:
        self._update(
            name,
            "monitoring_started" if interval_seconds else "monitoring_stopped",
            {
                "monitoring_interval_seconds": interval_seconds,
                "monitoring_next_run_at": next_run_at,
            },
        )

    def advance(
        self,
        name: str,
        column: str,
        expected: datetime,
        new: datetime | None,
        connection: Connection | None = None,
    ) -> bool:
        """Compare-and-set of a due time: True for exactly one of several concurrent callers."""
        if column not in ("schedule_next_run_at", "monitoring_next_run_at"):
            raise ValueError(f"{column} is not a schedule column")
        with transaction(self.engine, connection) as connection:
            result = connection.execute(
                models.update()
                .where(models.c.name == name, models.c[column] == expected)
                .values({column: new})
            )
        return result.rowcount == 1

    def record(
        self,
        name: str,
        kind: str,
        details: dict[str, Any],
        job_id: str | None = None,
        connection: Connection | None = None,
    ) -> None:
        """An audit event about the model that changes none of its state."""
        with transaction(self.engine, connection) as connection:
            record_event(connection, name, kind, job_id=job_id, details=details)

    def due(self, now: datetime, names: list[str] | None = None) -> list[ModelRecord]:
        """Models whose schedule or monitoring check is due at ``now``."""
        query = sa.select(models).where(
            sa.or_(models.c.schedule_next_run_at <= now, models.c.monitoring_next_run_at <= now)
        )
        if names is not None:
            query = query.where(models.c.name.in_(names))
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(models.c.name)).mappings().all()
        return [_to_record(row) for row in rows]

    def _update(
        self,
        name: str,
        kind: str,
        values: dict[str, Any],
        details: dict[str, Any] | None = None,
        job_id: str | None = None,
        connection: Connection | None = None,
        expected_champion: str | None = _ANY,
    ) -> bool:
        condition = models.c.name == name
        if expected_champion is not _ANY:
            condition = condition & models.c.champion_version.is_not_distinct_from(
                expected_champion
            )
        with transaction(self.engine, connection) as connection:
            result = connection.execute(
                models.update().where(condition).values(updated_at=utcnow(), **values)
            )
            if result.rowcount != 1:
                if expected_champion is _ANY or not self._exists(connection, name):
                    raise UnknownModel(name)
                return False
            record_event(
                connection, name, kind, job_id=job_id, details=details or _json_safe(values)
            )
        return True

    @staticmethod
    def _exists(connection: Connection, name: str) -> bool:
        query = sa.select(models.c.name).where(models.c.name == name)
        return connection.execute(query).first() is not None


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _to_record(row) -> ModelRecord:
    return ModelRecord(
        name=row["name"],
        config=RetrainingConfig.from_dict(row["config"]),
        pipeline=row["pipeline"] or {},
        task=Task(row["task"]) if row["task"] else None,
        feature_columns=row["feature_columns"],
        baseline_metrics=row["baseline_metrics"],
        reference_key=row["reference_key"],
        champion_version=row["champion_version"],
        champion_run_id=row["champion_run_id"],
        champion_metrics=row["champion_metrics"],
        champion_diagnostics=row["champion_diagnostics"],
        data_sources=row["data_sources"] or {},
        schedule_next_run_at=row["schedule_next_run_at"],
        monitoring_interval_seconds=row["monitoring_interval_seconds"],
        monitoring_next_run_at=row["monitoring_next_run_at"],
    )
