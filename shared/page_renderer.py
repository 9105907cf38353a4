"""``python -m shared.page_renderer CHECK_ID``: render and store one check's Evidently page.

The child process of ``shared.check_pages.BackgroundRenderer``: the settings come from the
environment (``RETRAINING_HOME``, ``DATABASE_URL``), so it reads and writes the same blobs.
"""

from __future__ import annotations

import logging
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m shared.page_renderer CHECK_ID", file=sys.stderr)
        return 2
    os.nice(10)  # after the checks and trainings of this host
    logging.basicConfig(level=logging.WARNING)

    from shared.check_pages import render_stored_check
    from shared.runtime import Runtime

    runtime = Runtime.from_env()
    try:
        render_stored_check(runtime, argv[0])
    finally:
        runtime.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
