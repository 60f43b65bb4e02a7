"""API base paths: where the REST API is mounted on the web server.

Scope endpoints are relative to the API base: ``/Client`` in a scope means
``/commandcenter/api/Client`` or ``/webconsole/api/Client`` on the wire.
:class:`ApiBase` strips the longest base that a canonical path starts with,
on a segment boundary, and says when a path lies under none of them (the
caller then denies it as out of scope).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from policy._endpoints import parse_prefixes
from policy._errors import Diagnostic, ScopeError

__all__ = ["DEFAULT_API_BASES", "ApiBase"]

# The mount points Commvault documents for its REST API: Command Center,
# the Web Console and the older web service.
DEFAULT_API_BASES: Final = (
    "/commandcenter/api",
    "/webconsole/api",
    "/SearchSvc/CVWebService.svc",
)


class ApiBase:
    """A set of API base paths.

    Invariant: bases are canonical, without trailing slash, and held
    longest first, so the first base that matches is the longest.

    Attributes:
        bases: The canonical bases, longest first.
    """

    __slots__ = ("_folded", "bases")

    def __init__(
        self,
        bases: str | Iterable[str] = DEFAULT_API_BASES,
        *,
        source: str = "<api-bases>",
        first_line: int = 1,
    ) -> None:
        """Parse and check the bases, like scope endpoints.

        Raises:
            ScopeError: A base is malformed, or there is none (code
                ``no-api-base``).
            PolicyTypeError: ``bases`` is not text or strings.
        """
        parsed = parse_prefixes(
            bases, source=source, first_line=first_line, noun="API base"
        )
        if not parsed:
            diagnostic = Diagnostic(
                source=source,
                line=first_line,
                column=1,
                text="",
                message="at least one API base is needed, or every path would "
                "be out of scope, got none",
                code="no-api-base",
            )
            raise ScopeError(diagnostic.format(), [diagnostic])
        unique = {endpoint.path: None for endpoint in parsed}
        self.bases: tuple[str, ...] = tuple(
            sorted(unique, key=lambda base: (-len(base), base))
        )
        self._folded = tuple(base.lower() for base in self.bases)

    def strip(self, path: str, *, case_sensitive: bool) -> str | None:
        """Return ``path`` relative to the longest base it lies under.

        Args:
            path: A canonical path.
            case_sensitive: Compare bases by exact case, or ASCII-folded.

        Returns:
            The rest of the path, starting with ``/`` (``/`` for the base
            itself); None when the path is under no base.
        """
        if not path.isascii():
            return None
        bases = self.bases if case_sensitive else self._folded
        compared = path if case_sensitive else path.lower()
        for base in bases:
            if base == "/":
                return path
            if compared == base:
                return "/"
            if compared.startswith(base) and compared[len(base)] == "/":
                return path[len(base) :]
        return None

    def __repr__(self) -> str:
        return f"ApiBase({list(self.bases)!r})"
