"""A client helper for services that call an API with a renewable token pair.

It holds the current access/refresh pair in a file and hands out an access
token that is good for a while yet::

    client = TokenClient("https://cv.example.com/commandcenter/api",
                         pair_file=Path("/var/lib/app/token.json"))
    request.add_header("Authorization", f"Bearer {client.access_token()}")

Three rules keep a pair from being lost or reused:

* One renewal in flight: threads of a process take a lock, and processes
  sharing the file take an exclusive ``flock`` on ``<file>.lock``, then read
  the file again, so whoever comes second uses the pair the first one got.
  A second renewal of the same pair would be taken for theft and revoke the
  whole chain.
* The rotated pair is saved before it is used: written to a temporary file
  in the same directory, flushed with ``fsync``, renamed over the old file
  and the directory synced, so a crash leaves the old pair or the new one,
  never a torn file and never a new pair that only lived in memory.
* Renew shortly before expiry (``renew_before``, five minutes by default),
  so no request is sent with a token about to expire on the way.

The pair file is JSON: ``{"accessToken", "refreshToken", "accessExpiresAt"}``
(ISO 8601), created readable by its owner only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from policy._errors import PolicyTypeError
from policy._redact import redact
from policy.tokens import Clock, SystemClock, TokenError

__all__ = [
    "DEFAULT_RENEW_BEFORE",
    "RENEW_PATH",
    "PairFileError",
    "RenewalFailed",
    "TokenClient",
    "TokenPair",
    "Transport",
    "load_pair",
    "save_pair",
    "urllib_transport",
]

RENEW_PATH: Final = "/V4/AccessToken/Renew"
DEFAULT_RENEW_BEFORE: Final = timedelta(minutes=5)
# A renewal answer is a few hundred bytes; more is not a renewal answer.
_MAX_ANSWER_BYTES: Final = 64 * 1024

# (method, url, headers, body) -> (status, body); raises OSError when the
# server cannot be reached.
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]


class PairFileError(TokenError):
    """The pair file cannot be read, parsed or written."""


class RenewalFailed(TokenError):
    """The server refused the renewal, or could not be reached.

    Attributes:
        status: The HTTP status, or None when no answer came.
        reason: The reason the server named (``expired``,
            ``refresh_reused_chain_revoked``, ...), or None.
    """

    def __init__(self, message: str, *, status: int | None, reason: str | None):
        self.status = status
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access/refresh pair and the access expiry; repr hides the secrets."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: datetime


def urllib_transport(*, timeout_seconds: float = 10.0) -> Transport:
    """A transport on :mod:`urllib.request`, from the standard library."""

    def send(
        method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        # urllib would also open file: and ftp: URLs; a renewal is HTTP only.
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"renewal URL must be http or https, got {url[:60]!r}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=body, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - scheme checked above
                request, timeout=timeout_seconds
            ) as answer:
                return answer.status, answer.read(_MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(_MAX_ANSWER_BYTES + 1)

    return send


def load_pair(path: Path) -> TokenPair:
    """Read a pair file.

    Raises:
        PairFileError: It cannot be read, is not JSON, or misses a field.
    """
    try:
        document = json.loads(path.read_bytes())
        expires = datetime.fromisoformat(document["accessExpiresAt"])
        pair = TokenPair(
            str(document["accessToken"]), str(document["refreshToken"]), expires
        )
    except OSError as error:
        raise PairFileError(
            f"cannot read pair file {_shown(path)}: {error.strerror}"
        ) from None
    except (ValueError, KeyError, TypeError) as error:
        raise PairFileError(
            f"pair file {_shown(path)} must be JSON with accessToken, refreshToken and "
            f"accessExpiresAt, got {type(error).__name__}"
        ) from None
    if expires.tzinfo is None:
        raise PairFileError(f"accessExpiresAt in {_shown(path)} must have a UTC offset")
    return pair


def save_pair(path: Path, pair: TokenPair) -> None:
    """Replace the pair file atomically: temp file, fsync, rename, dir fsync.

    Raises:
        PairFileError: The file cannot be written; the old one is intact.
    """
    document = {
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
        "accessExpiresAt": pair.access_expires_at.isoformat(),
    }
    data = json.dumps(document).encode("utf-8")
    directory = path.parent
    try:
        # mkstemp creates the file with mode 0600.
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)
    except OSError as error:
        raise PairFileError(
            f"cannot write pair file {_shown(path)}: {error.strerror}"
        ) from None


class TokenClient:
    """Hands out a fresh access token, renewing the pair when it is due.

    Args:
        base_url: The API's base URL (``http`` or ``https``); the renewal is
            posted to ``base_url + "/V4/AccessToken/Renew"``.
        pair_file: Where the current pair is kept (see :func:`save_pair`).
        transport: Sends the renewal; :func:`urllib_transport` by default.
        clock: Tells the time; the system clock by default.
        renew_before: How long before the access token's expiry to renew.

    Raises:
        PolicyTypeError: The URL's scheme is not http or https, or
            ``renew_before`` is not a non-negative timedelta.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pair_file: Path,
        transport: Transport | None = None,
        clock: Clock | None = None,
        renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise PolicyTypeError(
                f"base_url must start with http:// or https://, got {base_url[:60]!r}"
            )
        if not isinstance(renew_before, timedelta) or renew_before < timedelta(0):
            raise PolicyTypeError(
                "renew_before must be a timedelta of zero or more, "
                f"got {renew_before!r}"
            )
        self.renew_url = base_url.rstrip("/") + RENEW_PATH
        self.pair_file = Path(pair_file)
        self._transport = transport or urllib_transport()
        self._clock: Clock = clock or SystemClock()
        self.renew_before = renew_before
        self._lock = threading.Lock()
        self._pair: TokenPair | None = None

    def __repr__(self) -> str:
        return f"<TokenClient {self.renew_url!r} pair_file={str(self.pair_file)!r}>"

    def access_token(self) -> str:
        """Return an access token good for at least ``renew_before``.

        Raises:
            PairFileError: The pair file cannot be read or written.
            RenewalFailed: A renewal was due and did not succeed.
        """
        pair = self._pair
        if pair is not None and not self._due(pair):
            return pair.access_token
        with self._lock, self._file_lock():
            # Another thread or process may have renewed while this one
            # waited: the file tells.
            pair = load_pair(self.pair_file)
            if self._due(pair):
                pair = self._renew(pair)
            self._pair = pair
        return pair.access_token

    def renew(self) -> TokenPair:
        """Renew now, whatever the expiry (after a 401, say); return the pair.

        Raises:
            PairFileError: The pair file cannot be read or written.
            RenewalFailed: The renewal did not succeed.
        """
        with self._lock, self._file_lock():
            self._pair = self._renew(load_pair(self.pair_file))
            return self._pair

    def _due(self, pair: TokenPair) -> bool:
        return self._clock.now() >= pair.access_expires_at - self.renew_before

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Hold an exclusive lock shared by every process using the file."""
        lock_path = self.pair_file.with_name(self.pair_file.name + ".lock")
        try:
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise PairFileError(
                f"cannot open lock file {_shown(lock_path)}: {error.strerror}"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            os.close(handle)

    def _renew(self, pair: TokenPair) -> TokenPair:
        """Post the renewal, save the new pair, and only then return it."""
        body = json.dumps(
            {"accessToken": pair.access_token, "refreshToken": pair.refresh_token}
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            status, answer = self._transport("POST", self.renew_url, headers, body)
        except OSError as error:
            raise RenewalFailed(
                f"renewal could not reach the server: {type(error).__name__}",
                status=None,
                reason=None,
            ) from None
        renewed = _parse_answer(status, answer)
        save_pair(self.pair_file, renewed)
        return renewed


def _parse_answer(status: int, answer: bytes) -> TokenPair:
    """The new pair of a 200 answer; RenewalFailed for anything else."""
    document: object = None
    if len(answer) <= _MAX_ANSWER_BYTES:
        with contextlib.suppress(ValueError, RecursionError):
            document = json.loads(answer)
    fields = document if isinstance(document, dict) else {}
    if status != 200:
        reason = fields.get("reason")
        named = reason if isinstance(reason, str) else None
        raise RenewalFailed(
            f"renewal refused with HTTP {status} ({(named or 'no reason')[:60]})",
            status=status,
            reason=named,
        )
    access, refresh = fields.get("accessToken"), fields.get("refreshToken")
    expiry = fields.get("tokenExpiryTimestamp")
    if (
        not isinstance(access, str)
        or not isinstance(refresh, str)
        or not isinstance(expiry, int)
        or isinstance(expiry, bool)
    ):
        raise RenewalFailed(
            "renewal answer must hold accessToken, refreshToken and "
            "tokenExpiryTimestamp",
            status=status,
            reason=None,
        )
    return TokenPair(access, refresh, datetime.fromtimestamp(expiry, UTC))


def _shown(path: Path) -> str:
    """A file path for a message: a secret pasted into it is blanked."""
    return redact(str(path))
