"""``python -m retraining.cli``: the ``retrain`` command."""

import sys

from retraining.cli import main

sys.exit(main())
