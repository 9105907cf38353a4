"""The specification's Python API: ``from retraining.scheduler import RetrainingScheduler``."""
