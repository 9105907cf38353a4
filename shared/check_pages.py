"""A stored check's Evidently page: rendered off the check's path, readable from every host.

A check returns once its verdict is stored. What its page needs is stored with it, as a blob
any host can read (:func:`store_page_input`): a seeded sample of the current rows (at most
``HTML_MAX_ROWS``, Parquet), with the key of the reference profile the check used and the
model's ``drift_threshold`` in the file's metadata. The page itself is rendered afterwards:

* by whoever the check's caller hands it to: a daemon thread of this process that renders
  in a child process (:func:`render_in_background`, the embedded default), or a low-priority
  task of the ``checks`` queue (the distributed mode); both end in :func:`render_page`;
* on first request, when nobody is rendering it (the thread died with its process, the task
  was lost): the API starts it in the background and answers "still rendering"
  (:func:`request_page`), the Python API renders it in the caller's thread
  (:func:`wait_for_page`).

Whoever renders first claims the page with a write-once claim blob, so two hosts rarely render
one page twice; a claim older than ``RENDER_LEASE_SECONDS`` is taken for a dead renderer. The
page blob is write-once too: if two render anyway, the first page stored is the one served.
"""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from shared.checks import CheckRecord
from shared.clock import utcnow
from shared.drift import HTML_MAX_ROWS, ColumnDrift, DriftResult, ReferenceProfile
from shared.drift.columns import as_strings
from shared.drift.evidently import bounded_sample
from shared.drift.store import PARQUET
from shared.enums import Status
from shared.runtime import Runtime
from shared.storage import BlobNotFound

logger = logging.getLogger("retraining.check_pages")

HTML = "text/html"
RENDER_LEASE_SECONDS = 120.0  # a claim older than this is a renderer that died
QUEUED_GRACE_SECONDS = 15.0  # a page handed to a renderer this recently is left to it
RETRY_AFTER_SECONDS = 2  # what a client still waiting for a page is told
_POLL_SECONDS = 0.2

_PROFILE_KEY = b"retraining.profile_key"
_DRIFT_THRESHOLD = b"retraining.drift_threshold"


def page_key(model_name: str, check_id: str) -> str:
    """Where a check's page is stored (the check's ``report_key``)."""
    return f"models/{model_name}/checks/{check_id}.html"


def input_key(report_key: str) -> str:
    return f"{report_key.removesuffix('.html')}.current.parquet"


def claim_key(report_key: str) -> str:
    return f"{report_key.removesuffix('.html')}.rendering.json"


# --- at the check: what the page needs ----------------------------------------------------------


def store_page_input(
    runtime: Runtime,
    report_key: str,
    current: pd.DataFrame,
    profile: ReferenceProfile,
    profile_key: str,
    drift_threshold: float,
) -> None:
    """The seeded current sample the page is rendered from, beside the check's page key.

    Column names are stored as strings (Parquet requires it; Evidently's page needs it too).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [name for name in profile.column_names if name in current.columns]
    # rows first: a million-row frame is never copied whole
    sample = bounded_sample(current, HTML_MAX_ROWS, profile.seed)[columns].copy()
    sample.columns = [str(name) for name in sample.columns]
    try:
        table = pa.Table.from_pandas(sample, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed-type object columns: Evidently reads categories as strings anyway
        for name in sample.select_dtypes(include="object").columns:
            sample[name] = as_strings(sample[name])
        table = pa.Table.from_pandas(sample, preserve_index=False)
    metadata = {
        **(table.schema.metadata or {}),
        _PROFILE_KEY: profile_key.encode("utf-8"),
        _DRIFT_THRESHOLD: repr(float(drift_threshold)).encode("ascii"),
    }
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), buffer)
    runtime.blobs.put(input_key(report_key), buffer.getvalue(), media_type=PARQUET)


# --- rendering -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageInput:
    current: pd.DataFrame | None  # None: the check stored no sample (an older release)
    profile_key: str | None
    drift_threshold: float | None


def read_page_input(runtime: Runtime, report_key: str) -> PageInput:
    import pyarrow.parquet as pq

    try:
        data = runtime.blobs.get(input_key(report_key))
    except BlobNotFound:
        return PageInput(None, None, None)
    table = pq.read_table(io.BytesIO(data))
    metadata = table.schema.metadata or {}
    threshold = metadata.get(_DRIFT_THRESHOLD)
    return PageInput(
        current=table.to_pandas(),
        profile_key=metadata[_PROFILE_KEY].decode("utf-8") if _PROFILE_KEY in metadata else None,
        drift_threshold=float(threshold) if threshold is not None else None,
    )


def render_page(runtime: Runtime, check: CheckRecord, *, force: bool = False) -> bytes | None:
    """Render and store ``check``'s page unless it is stored or being rendered; the page.

    None when another renderer holds a live claim (``force``: render all the same). A failure
    to render is a page saying why, so a page always ends up stored.
    """
    key = check.report_key
    if key is None:
        raise ValueError(f"check {check.check_id!r} has no drift report")
    page = stored_page(runtime, key)
    if page is not None:
        return page
    if not _claim(runtime, key) and not force and _claim_is_live(runtime, key):
        return None
    page = _render(runtime, check).encode("utf-8")
    if not runtime.blobs.put(key, page, media_type=HTML, compress=True):
        page = runtime.blobs.get(key)  # another renderer stored it first: that one is served
    return page


def render_stored_check(runtime: Runtime, check_id: str) -> bool:
    """A renderer's entry point (the worker task, the child process): True if stored."""
    check = runtime.checks.get(check_id)
    if check.report_key is None or check.status is not Status.COMPLETED:
        return False
    return render_page(runtime, check) is not None


def _render(runtime: Runtime, check: CheckRecord) -> str:
    from shared.drift import render_html_report

    drift = check.drift or {}
    result = DriftResult(
        columns=tuple(ColumnDrift(**item) for item in drift.get("columns", [])),
        drift_share=float(drift.get("drift_share") or 0.0),
        n_reference=int(drift.get("n_reference") or 0),
        n_current=int(drift.get("n_current") or 0),
    )
    given = read_page_input(runtime, check.report_key)
    threshold = given.drift_threshold
    if threshold is None:
        threshold = runtime.models.get(check.model_name).config.drift_threshold
    profile = None
    if given.profile_key is not None:
        try:
            profile = ReferenceProfile.from_bytes(runtime.blobs.get(given.profile_key))
        except BlobNotFound:
            profile = None
    return render_html_report(profile, given.current, result, drift_share=threshold)


def _claim(runtime: Runtime, key: str) -> bool:
    """Claim the rendering of ``key``; False when someone claimed it before (live or not)."""
    who = {"host": socket.gethostname(), "pid": os.getpid(), "at": utcnow().isoformat()}
    return runtime.blobs.put(
        claim_key(key), json.dumps(who).encode("utf-8"), media_type="application/json"
    )


def _claim_is_live(runtime: Runtime, key: str) -> bool:
    """Someone claimed the page and may still be rendering it: within the lease, and, when
    the claim is of this host, by a process that still runs (one that died never will)."""
    try:
        claimed = runtime.blobs.info(claim_key(key)).created_at
    except BlobNotFound:
        return False
    if _age(claimed) >= RENDER_LEASE_SECONDS:
        return False
    try:
        who = json.loads(runtime.blobs.get(claim_key(key)))
    except (BlobNotFound, ValueError):
        return True
    return who.get("host") != socket.gethostname() or _running(int(who.get("pid", 0)))


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True


def _age(moment) -> float:
    now = utcnow()
    if moment.tzinfo is None:
        now = now.replace(tzinfo=None)
    return (now - moment) / timedelta(seconds=1)


# --- reading the page ----------------------------------------------------------------------------


def stored_page(runtime: Runtime, report_key: str) -> bytes | None:
    try:
        return runtime.blobs.get(report_key)
    except BlobNotFound:
        return None


def request_page(runtime: Runtime, check: CheckRecord) -> bytes | None:
    """The page, or None while it is rendering: started here, in the background, when nobody
    is rendering it and no renderer was handed it within ``QUEUED_GRACE_SECONDS``."""
    key = check.report_key
    if key is None:
        raise ValueError(f"check {check.check_id!r} has no drift report")
    page = stored_page(runtime, key)
    if page is not None:
        return page
    if not _claim_is_live(runtime, key) and not _handed_over_recently(runtime, key):
        render_in_background(runtime, check.model_name, check.check_id)
    return None


def wait_for_page(runtime: Runtime, check: CheckRecord, timeout: float | None = None) -> bytes:
    """The page: waited for while another renderer holds a live claim, else rendered here.

    ``timeout`` (seconds, default the lease): how long to wait for another renderer before
    rendering in this thread all the same.
    """
    limit = RENDER_LEASE_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + limit
    while True:
        force = time.monotonic() >= deadline
        page = render_page(runtime, check, force=force)
        if page is not None:
            return page
        time.sleep(_POLL_SECONDS)


def _handed_over_recently(runtime: Runtime, key: str) -> bool:
    if _background().has(key):
        return True
    try:
        stored = runtime.blobs.info(input_key(key)).created_at
    except BlobNotFound:
        return False
    return _age(stored) < QUEUED_GRACE_SECONDS


# --- this process's renderer ---------------------------------------------------------------------


class BackgroundRenderer:
    """One daemon thread rendering pages one at a time, each in a child process.

    A child, so the checking process never holds Evidently (about 90 MB imported, more while
    it renders) nor competes with it for the GIL; niced, so checks come first. The thread is
    a daemon, so it never holds a process's exit, and the child has a session of its own, so
    the page it is rendering is finished even when the process that checked has exited. A
    page still queued when the process exits is rendered on first request instead.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Runtime, str, str]] = queue.SimpleQueue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, runtime: Runtime, check_id: str, report_key: str) -> None:
        with self._lock:
            if report_key in self._pending:
                return
            self._pending.add(report_key)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="retrain-check-page", daemon=True
                )
                self._thread.start()
        self._queue.put((runtime, check_id, report_key))

    def has(self, report_key: str) -> bool:
        with self._lock:
            return report_key in self._pending

    def idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is queued or rendering (tests, and a process about to exit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        while True:
            runtime, check_id, key = self._queue.get()
            try:
                _render_in_child(runtime, check_id)
            except Exception:
                logger.warning(
                    "the drift page of check %s could not be stored", check_id, exc_info=True
                )
            finally:
                with self._lock:
                    self._pending.discard(key)


def _render_in_child(runtime: Runtime, check_id: str) -> None:
    """``python -m shared.page_renderer CHECK_ID`` on this runtime's database, waited for."""
    settings = runtime.settings
    env = {
        **os.environ,
        "RETRAINING_HOME": str(settings.home),
        "DATABASE_URL": settings.database_url,
        # the child imports what this process imports (a script's own directory included)
        "PYTHONPATH": os.pathsep.join(path or os.getcwd() for path in sys.path),
        "PYTHONWARNINGS": "ignore",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "shared.page_renderer", check_id],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # not stopped with this process: the page gets finished
    )
    _, errors = child.communicate()
    if child.returncode != 0:
        tail = errors.decode("utf-8", "replace")[-2000:]
        raise RuntimeError(f"the page renderer exited with {child.returncode}: {tail}")


_renderer: BackgroundRenderer | None = None
_renderer_lock = threading.Lock()


def _background() -> BackgroundRenderer:
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = BackgroundRenderer()
        return _renderer


def render_in_background(runtime: Runtime, model_name: str, check_id: str) -> None:
    """Hand the page of ``check_id`` to this process's renderer thread."""
    _background().submit(runtime, check_id, page_key(model_name, check_id))


def background_idle(timeout: float = 60.0) -> bool:
    """True once this process's renderer has nothing queued or rendering."""
    return _background().idle(timeout)
