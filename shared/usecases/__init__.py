"""The use cases, each written once; the Python API, the HTTP routes, the Celery tasks, Beat's
dispatcher and the embedded dispatcher each call them in a line or two.

- ``models``: configure a model (its configuration, pipeline, data sources, and the one rule
  for keeping or recomputing the next scheduled run);
- ``monitors``: initialize a model's monitors from a frame or from its sources;
- ``retraining``: submit a retraining (the job row first, then the message) and run one;
- ``checks``: request a check, and run a requested one;
- ``due_work``: start what is due (schedules, monitoring checks), and the loop that does it;
- ``reconcile``: recover jobs whose message or worker went away;
- ``ports``: what a use case needs from the outside (a ``Publisher``), and the in-process
  publisher of the embedded mode.

How work reaches whoever runs it is a ``Publisher``, injected by the caller: Celery's (in
``workers``), the in-process thread pools (``ports.InProcessPublisher``), or the Python API's,
which runs a job in the calling thread with the user's own loader and pipeline.
"""
