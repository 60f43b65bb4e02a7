"""``policy lint``: report every problem of a policy or allowlist file."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from policy._errors import Diagnostic, PolicyError, PolicyTypeError
from policy._files import is_policy_path
from policy._lint import lint_allowlist_file, lint_policy_file
from policy._redact import redact
from policy.cli._common import EXIT_NO, EXIT_UNUSABLE, EXIT_YES, Subparsers, fail

__all__ = ["register", "run"]


def register(subparsers: Subparsers) -> None:
    """Add the ``lint`` subcommand."""
    parser = subparsers.add_parser(
        "lint",
        help="report every error and warning of a policy or allowlist",
        description="Check a policy file (.toml, in any case) or a bare "
        "allowlist file (any other name). Prints file:line:col: level code "
        "message for each finding; exit 1 when there is an error, 0 otherwise, "
        "2 when the file cannot be read (missing, not a regular file, too "
        "large, not UTF-8).",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--my-ip",
        metavar="IP",
        help="your own address: an error when the allowlist would lock it out",
    )
    parser.add_argument(
        "--strict", action="store_true", help="treat every warning as an error"
    )
    parser.add_argument(
        "--internet",
        action="store_true",
        help="the allowlist is for internet clients: warn about private, "
        "loopback and link-local space",
    )
    parser.add_argument(
        "--no-catalogue",
        action="store_true",
        help="do not check endpoints against the Commvault endpoint catalogue",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each finding; exit 1 on any error, 2 when the file is unusable."""
    try:
        findings = _findings(args)
    except PolicyTypeError as error:
        return fail(str(error))
    except PolicyError as error:
        # The file cannot be read, is no regular file, too large or not
        # UTF-8: nothing was linted, which is not the same as an error found.
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_UNUSABLE
    if args.strict:
        findings = [dataclasses.replace(f, level="error") for f in findings]

    if args.format == "json":
        print(json.dumps([_as_json(f) for f in findings], indent=2))
    else:
        for finding in findings:
            # Lint blanks secrets already; the printing path does it again,
            # since a finding may come from any reader of the file.
            print(redact(finding.format(caret=False)))
    return EXIT_NO if any(f.level == "error" for f in findings) else EXIT_YES


def _findings(args: argparse.Namespace) -> list[Diagnostic]:
    path: Path = args.file
    if is_policy_path(path):
        return lint_policy_file(
            path,
            my_ip=args.my_ip,
            internet=args.internet,
            catalogue=None if args.no_catalogue else "commvault",
        )
    return lint_allowlist_file(path, my_ip=args.my_ip, internet=args.internet)


def _as_json(finding: Diagnostic) -> dict[str, object]:
    return {
        "source": redact(finding.source),
        "line": finding.line,
        "column": finding.column,
        "level": finding.level,
        "code": finding.code,
        "message": redact(finding.message),
        "text": redact(finding.text),
    }
