"""Hot reload of a policy file: a changed file is picked up without a restart.

The compiled :class:`AccessPolicy` is immutable and held by one reference,
replaced in a single assignment once a new version has loaded completely, so
a request is judged by the old policy or the new one, never by a mix.

A version that fails to load (bad TOML, a bad entry, the file gone) leaves
the last good policy in force; it is logged once at WARNING, with its
diagnostics, and not retried until the file changes again.  A file that
changes while it is being read is not used either: writers that replace it
by rename (``mv new.toml policy.toml``) are never seen half-written, and
writers that rewrite it in place are read again once they stop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from policy._decision import Decision
from policy._errors import PolicyError, PolicyTypeError, shown
from policy._policy import ADAPTER_CACHE_SIZE, AccessPolicy
from policy._policyfile import load_policy

__all__ = ["DEFAULT_CHECK_INTERVAL_SECONDS", "PolicyReloader"]

_log = logging.getLogger("policy.reload")

# How often the file's metadata is looked at; one stat() a second costs
# nothing and bounds how long an edit takes to apply.
DEFAULT_CHECK_INTERVAL_SECONDS = 1.0

# A server judges real traffic, which repeats clients and paths, so the
# policies it loads keep tables of recent verdicts (see AccessPolicy).
_load_for_serving = partial(load_policy, cache_size=ADAPTER_CACHE_SIZE)

# What identifies one version of the file: any write or rename changes it.
_Signature = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Loaded:
    """The policy in force and the file version it came from."""

    signature: _Signature
    policy: AccessPolicy


class PolicyReloader:
    """The last good policy of a file, reloaded when the file changes.

    Args:
        path: The policy file.
        check_interval_seconds: Least time between two looks at the file;
            zero looks at every call.
        loader: Reads and compiles the file; by default :func:`load_policy`
            with a cache of ``ADAPTER_CACHE_SIZE`` recent verdicts.
        monotonic: The clock the interval is measured with.

    Raises:
        PolicyFileError: The first load fails: there is no good policy to
            fall back on, so the caller must not start.
        PolicyTypeError: ``check_interval_seconds`` is negative.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        check_interval_seconds: float = DEFAULT_CHECK_INTERVAL_SECONDS,
        loader: Callable[[Path], AccessPolicy] = _load_for_serving,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not check_interval_seconds >= 0:
            raise PolicyTypeError(
                "check_interval_seconds must be zero or positive, "
                f"got {check_interval_seconds!r}"
            )
        self.path = Path(path)
        self.check_interval_seconds = float(check_interval_seconds)
        self._loader = loader
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._refused: _Signature | None = None
        loaded = self._load(_signature(self.path))
        if isinstance(loaded, PolicyError):
            raise loaded
        self._loaded = loaded
        self._next_check = monotonic() + self.check_interval_seconds

    def __repr__(self) -> str:
        return f"<PolicyReloader {self._shown!r} {self._loaded.policy!r}>"

    @property
    def _shown(self) -> str:
        """The file's name for messages: secrets blanked, controls escaped."""
        return shown(str(self.path))

    @property
    def policy(self) -> AccessPolicy:
        """The policy in force, after looking at the file if it is time to."""
        if self._monotonic() >= self._next_check:
            self.reload()
        return self._loaded.policy

    def check(self, *, ip: object, path: str, method: str = "GET") -> Decision:
        """Decide a request with the policy in force (AccessPolicy.check)."""
        return self.policy.check(ip=ip, path=path, method=method)

    def reload(self) -> bool:
        """Look at the file now; load it if it changed.

        Only one caller loads at a time; the others go on with the policy in
        force instead of waiting.

        Returns:
            True when a new version was loaded and is now in force.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._next_check = self._monotonic() + self.check_interval_seconds
            return self._reload_locked()
        finally:
            self._lock.release()

    def _reload_locked(self) -> bool:
        signature = _signature(self.path)
        if signature in (self._loaded.signature, self._refused):
            return False
        loaded = self._load(signature)
        if isinstance(loaded, PolicyError):
            self._refused = signature
            _log.warning(
                "policy file %s was not reloaded; the last good version stays "
                "in force: %s",
                self._shown,
                loaded,
            )
            return False
        self._loaded = loaded
        self._refused = None
        _log.info("policy file %s reloaded", self._shown)
        return True

    def _load(self, signature: _Signature) -> _Loaded | PolicyError:
        """Load one version; a file changed while read counts as a failure."""
        try:
            policy = self._loader(self.path)
        except PolicyError as error:
            return error
        if _signature(self.path) != signature:
            return PolicyError(f"{self._shown} changed while it was being read")
        return _Loaded(signature, policy)


def _signature(path: Path) -> _Signature:
    """Identify the file's current version; a missing file is all zeros."""
    try:
        status = path.stat()
    except OSError:
        return (0, 0, 0, 0)
    return (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
