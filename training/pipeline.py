"""``TrainingPipeline``: which scikit-learn model to train and how (see ``shared.modeling``)."""

from shared.modeling import TrainingPipeline

__all__ = ["TrainingPipeline"]
