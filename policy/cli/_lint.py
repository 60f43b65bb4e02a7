"""``policy lint``: report every problem of a policy or allowlist file."""

from __future__ import annotations

import argparse
from pathlib import Path

from policy._allowlist import IPAllowlist
from policy._errors import Diagnostic, PolicyError
from policy._policyfile import load_policy
from policy.cli._common import EXIT_NO, EXIT_YES, Subparsers, fail

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add the ``lint`` subcommand."""
    parser = subparsers.add_parser(
        "lint",
        help="report every error and warning of a policy or allowlist",
        description="Check a policy file (.toml) or a bare allowlist file "
        "(any other name). Prints file:line:col: level code message for each "
        "finding; exit 1 when there is an error.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each finding; exit 1 on any error."""
    path: Path = args.file
    try:
        findings = _findings(path)
    except OSError as error:
        return fail(f"cannot read {path}: {error.strerror}")

    for finding in findings:
        print(finding.format(caret=False))
    return EXIT_NO if any(f.level == "error" for f in findings) else EXIT_YES


def _findings(path: Path) -> tuple[Diagnostic, ...]:
    try:
        if path.suffix == ".toml":
            load_policy(path)
            return ()
        allowlist = IPAllowlist.parse(
            path.read_text(encoding="utf-8-sig"), source=str(path)
        )
    except PolicyError as error:
        return error.diagnostics
    return tuple(allowlist.warnings)
