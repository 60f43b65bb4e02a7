"""What every subcommand shares: exit statuses, loading, error output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Final, TypeAlias

from policy._errors import PolicyError, shown
from policy._policy import AccessPolicy
from policy._policyfile import load_policy

__all__ = [
    "EXIT_NO",
    "EXIT_UNUSABLE",
    "EXIT_YES",
    "Subparsers",
    "add_request_arguments",
    "fail",
    "load_or_fail",
]

EXIT_YES: Final = 0
EXIT_NO: Final = 1
EXIT_UNUSABLE: Final = 2

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_request_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name a policy file and one request to judge by it."""
    parser.add_argument("--policy", required=True, type=Path, metavar="P.toml")
    parser.add_argument("--ip", required=True, help="the client address")
    parser.add_argument("--path", required=True, help="the request target, as sent")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def fail(message: str) -> int:
    """Print ``policy: message`` on stderr; return the 'unusable' status.

    The message may quote a file name or an argument as typed: a secret in
    it is blanked and control characters are written as escapes.
    """
    print(f"policy: {shown(message)}", file=sys.stderr)
    return EXIT_UNUSABLE


def load_or_fail(path: Path) -> AccessPolicy | None:
    """Load a policy file, printing every diagnostic on failure."""
    try:
        return load_policy(path)
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return None
