"""A model's reference data and its drift profiles, stored once and readable from any host.

A reference is written as a Parquet blob together with the drift profile of the features a
check will look up (the champion's, or all of the reference's while there is none); a model
row points at the reference only once both exist. A later champion with other features gets
its profile built from the stored reference on first use, and stored for every host.

Profiles are immutable blobs under deterministic keys (:func:`profile_key`), so a parsed
profile never goes stale: each :class:`ReferenceStore` (one per ``Runtime``, so one per
process in the workers and the API) keeps the last ``PROFILES_KEPT`` profiles it wrote or
parsed, and a check of a model it has seen reads no blob and parses no file.

A profile's calibration (``shared.drift.calibration``: what calibrated drift thresholds need
from the reference, computed once) is kept the same way: a write-once blob under a key derived
from the profile's (:func:`calibration_key`, with its own format version), built from the
profile on first use, the last ``PROFILES_KEPT`` kept in memory.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence

import pandas as pd

from shared.clock import utcnow
from shared.drift.calibration import CALIBRATION_FORMAT_VERSION, Calibration
from shared.drift.profile import PROFILE_FORMAT_VERSION, ReferenceProfile
from shared.errors import Invalid
from shared.storage import BlobNotFound, BlobStore

PARQUET = "application/vnd.apache.parquet"
PROFILE = "application/x-npz"
PROFILES_KEPT = 8  # parsed profiles (and calibrations) kept in memory per store, LRU dropped


class ReferenceStore:
    """Reference frames and their profiles in the blob store; recent profiles kept in memory."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._profiles: OrderedDict[str, ReferenceProfile] = OrderedDict()
        self._calibrations: OrderedDict[str, Calibration] = OrderedDict()
        self._lock = threading.Lock()

    def store(
        self,
        model_name: str,
        frame: pd.DataFrame,
        columns: Sequence[str],
        features: Sequence[str] | None,
    ) -> str:
        """Write ``frame`` and its profile of ``columns``; returns the reference's key.

        ``features`` is what checks will ask the profile for (None: no champion yet).
        """
        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except (ValueError, TypeError, ImportError) as exc:
            raise Invalid(f"reference_data: cannot be stored as Parquet: {exc}") from exc
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        key = f"models/{model_name}/references/{stamp}-{uuid.uuid4().hex[:12]}.parquet"
        profile = ReferenceProfile.from_frame(frame, list(columns))
        self.blobs.put(key, buffer.getvalue(), media_type=PARQUET)
        self._put_profile(profile_key(key, features), profile)
        return key

    def frame(self, reference_key: str) -> pd.DataFrame:
        return pd.read_parquet(self.blobs.local_path(reference_key))

    def profile(self, reference_key: str, features: Sequence[str] | None) -> ReferenceProfile:
        """The profile of ``features`` (those the reference has), from memory when kept.

        Otherwise read from the blob store; when no host stored it yet, built from the stored
        reference and stored. ``features=None`` asks for the profile written with the
        reference while there was no champion: BlobNotFound when none was.
        """
        key = profile_key(reference_key, features)
        with self._lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                return self._profiles[key]
        try:
            profile = ReferenceProfile.from_bytes(self.blobs.get(key))
        except BlobNotFound:
            if features is None:
                raise
            reference = self.frame(reference_key)
            present = [name for name in features if name in reference.columns]
            profile = ReferenceProfile.from_frame(reference, present)
            self._put_profile(key, profile)
        self._remember(key, profile)
        return profile

    def calibration(self, reference_key: str, features: Sequence[str] | None) -> Calibration:
        """The calibration of :meth:`profile`'s profile, from memory when kept.

        Otherwise read from the blob store; when no host stored it yet, built from the profile
        (about 0.2 s of a core per numeric column) and stored. When another host stored it
        meanwhile, its blob is the one used, so every host calibrates alike.
        """
        key = calibration_key(profile_key(reference_key, features))
        with self._lock:
            if key in self._calibrations:
                self._calibrations.move_to_end(key)
                return self._calibrations[key]
        try:
            calibration = Calibration.from_bytes(self.blobs.get(key))
        except BlobNotFound:
            calibration = Calibration.build(self.profile(reference_key, features))
            if not self.blobs.put(key, calibration.to_bytes(), media_type=PROFILE):
                calibration = Calibration.from_bytes(self.blobs.get(key))
        self._remember_calibration(key, calibration)
        return calibration

    def _put_profile(self, key: str, profile: ReferenceProfile) -> None:
        self.blobs.put(key, profile.to_bytes(), media_type=PROFILE)
        self._remember(key, profile)

    def _remember(self, key: str, profile: ReferenceProfile) -> None:
        with self._lock:
            _keep(self._profiles, key, profile)

    def _remember_calibration(self, key: str, calibration: Calibration) -> None:
        with self._lock:
            _keep(self._calibrations, key, calibration)


def _keep(kept: OrderedDict, key: str, value: object) -> None:
    """Remember ``value`` as the most recently used, dropping the least recent beyond the cap."""
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > PROFILES_KEPT:
        kept.popitem(last=False)


def profile_key(reference_key: str, features: Sequence[str] | None) -> str:
    """Deterministic, so any host finds a profile another built; the format is in the key."""
    stem = reference_key.removesuffix(".parquet")
    if features is None:
        return f"{stem}.profile-all.v{PROFILE_FORMAT_VERSION}.npz"
    digest = hashlib.sha256(json.dumps(list(features)).encode("utf-8")).hexdigest()[:16]
    return f"{stem}.profile-{digest}.v{PROFILE_FORMAT_VERSION}.npz"


def calibration_key(profile_key: str) -> str:
    """Beside the profile it calibrates; its own format version, so either may change alone."""
    return f"{profile_key.removesuffix('.npz')}.calibration.v{CALIBRATION_FORMAT_VERSION}.npz"
