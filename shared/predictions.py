"""The serving log: what the champion answered for which inputs, and the true outcomes later.

Monitoring reads it back as a model's *current data* when no current source is configured:
the most recent predictions' inputs, with the target column filled in where feedback arrived
(so labelled rows feed the performance and concept-drift checks).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shared.clock import utcnow
from shared.db.schema import predictions
from shared.errors import NotFound
from shared.events import record_event

DEFAULT_CURRENT_ROWS = 5000  # the most recent predictions a check looks at


class UnknownPredictions(NotFound):
    title = "Unknown prediction"

    def __init__(self, ids: list[str]) -> None:
        shown = ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
        super().__init__(f"{len(ids)} unknown prediction id(s) for this model: {shown}")
        self.ids = ids


class PredictionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        model_name: str,
        model_version: str | None,
        inputs: Sequence[Mapping[str, Any]],
        outputs: Sequence[Any],
    ) -> list[str]:
        """Log one row per input with its output; returns the new prediction ids, in order."""
        if len(inputs) != len(outputs):
            raise ValueError("inputs and outputs must have the same length")
        now = utcnow()
        ids = [str(uuid.uuid4()) for _ in inputs]
        rows = [
            {
                "id": prediction_id,
                "model_name": model_name,
                "model_version": model_version,
                # one microsecond apart: the rows of one request keep their order when read back
                "created_at": now + timedelta(microseconds=index),
                "features": dict(features),
                "prediction": output,
            }
            for index, (prediction_id, features, output) in enumerate(
                zip(ids, inputs, outputs, strict=True)
            )
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(predictions.insert(), rows)
        return ids

    def record_outcomes(self, model_name: str, outcomes: Mapping[str, Any]) -> int:
        """Set the true outcome of each prediction id, all or none (``UnknownPredictions``)."""
        ids = list(outcomes)
        with self.engine.begin() as connection:
            known = set(
                connection.execute(
                    sa.select(predictions.c.id).where(
                        predictions.c.model_name == model_name, predictions.c.id.in_(ids)
                    )
                ).scalars()
            )
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise UnknownPredictions(unknown)
            now = utcnow()
            for prediction_id, outcome in outcomes.items():
                connection.execute(
                    predictions.update()
                    .where(predictions.c.id == prediction_id)
                    .values(outcome=outcome, outcome_at=now)
                )
            record_event(connection, model_name, "feedback", details={"n_outcomes": len(ids)})
        return len(ids)

    def counts(self, model_name: str | None = None) -> dict[str, dict[str, int]]:
        """Per model: ``{"total": n, "labelled": n}``."""
        labelled = sa.func.count(predictions.c.outcome_at)
        query = sa.select(predictions.c.model_name, sa.func.count(), labelled).group_by(
            predictions.c.model_name
        )
        if model_name is not None:
            query = query.where(predictions.c.model_name == model_name)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {name: {"total": int(total), "labelled": int(n)} for name, total, n in rows}

    def current_frame(
        self,
        model_name: str,
        target_column: str,
        feature_columns: Sequence[str] | None = None,
        limit: int = DEFAULT_CURRENT_ROWS,
    ) -> pd.DataFrame:
        """The most recent predictions' inputs (oldest first), with outcomes as the target.

        The target column is present only when some outcome is known; it is missing (NaN)
        on the rows still unlabelled.
        """
        query = (
            sa.select(predictions.c.features, predictions.c.outcome, predictions.c.outcome_at)
            .where(predictions.c.model_name == model_name)
            .order_by(predictions.c.created_at.desc(), predictions.c.id)
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        rows.reverse()
        frame = pd.DataFrame([features for features, _, _ in rows])
        if feature_columns:
            frame = frame.reindex(columns=list(feature_columns))
        if any(at is not None for _, _, at in rows):
            frame[target_column] = pd.Series(
                [outcome if at is not None else None for _, outcome, at in rows],
                index=frame.index,
            ).infer_objects()
        return frame
