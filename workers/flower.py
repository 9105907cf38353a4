"""Flower, optionally read-only: ``python -m workers.flower [--read-only] <flower options>``.

Flower has no read-only mode of its own: its dashboard's buttons (shut a worker down, revoke
a task, resize a pool) and its API (which can even send tasks) are POST requests. Read-only
refuses every request but GET and HEAD, so people can watch the workers and not steer them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

READ_ONLY_FLAG = "--read-only"
_READ_METHODS = frozenset({"GET", "HEAD"})


def make_read_only() -> None:
    import tornado.web
    from flower.api import BaseApiHandler
    from flower.views import BaseHandler

    for handler in (BaseHandler, BaseApiHandler):
        original = handler.prepare

        def prepare(self, _original=original):
            if self.request.method not in _READ_METHODS:
                raise tornado.web.HTTPError(403, "this Flower is read-only")
            return _original(self)

        handler.prepare = prepare


def main(argv: Sequence[str]) -> None:
    options = [arg for arg in argv if arg != READ_ONLY_FLAG]
    if READ_ONLY_FLAG in argv:
        make_read_only()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "workers.app", "flower", *options]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
