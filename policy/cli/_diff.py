"""``policy diff``: what an edit to a policy or allowlist changes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from policy._diff import diff_files
from policy._errors import PolicyError
from policy._redact import redact
from policy.cli._common import EXIT_NO, EXIT_UNUSABLE, EXIT_YES, Subparsers, fail

__all__ = ["register", "run"]


def register(subparsers: Subparsers) -> None:
    """Add the ``diff`` subcommand."""
    parser = subparsers.add_parser(
        "diff",
        help="show the address space and endpoints an edit changes",
        description="Compare two policy files, or two bare allowlist files: "
        "address space gained and lost per family (minimal CIDRs and counts), "
        "endpoints gained and lost, scope, API base and case changes. Exit 0 "
        "when there is no difference, 1 when there is, 2 when a file cannot "
        "be used.",
    )
    parser.add_argument("old", type=Path, metavar="OLD")
    parser.add_argument("new", type=Path, metavar="NEW")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the difference; exit 1 when there is one, like diff(1)."""
    try:
        found = diff_files(args.old, args.new)
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as error:
        return fail(f"cannot read {redact(str(error.filename))}: {error.strerror}")

    if args.format == "json":
        print(json.dumps(found.to_dict(), indent=2))
    else:
        print("\n".join(found.lines()))
    return EXIT_NO if found.different else EXIT_YES
