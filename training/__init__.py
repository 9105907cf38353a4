"""The specification's training API: ``from training.pipeline import TrainingPipeline``."""
