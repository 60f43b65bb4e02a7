"""``policy explain``: a decision, and the rules behind it."""

from __future__ import annotations

import argparse
import json
import sys

from policy._errors import PolicyError
from policy._explain import explain_file
from policy.cli._common import (
    EXIT_NO,
    EXIT_UNUSABLE,
    EXIT_YES,
    Subparsers,
    add_request_arguments,
)

__all__ = ["register", "run"]


def register(subparsers: Subparsers) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain",
        help="decide one request and say which rules decided",
        description="Decide a request like 'check', then show the path as sent, "
        "canonical and matched, the allowlist entry that admitted the client "
        "(or the nearest ones) and the endpoint that allowed the path (or the "
        "nearest ones). Exit 0 if allowed, 1 if denied, 2 if the policy "
        "cannot be used.",
    )
    add_request_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the explanation; the exit status says allowed or denied."""
    try:
        found = explain_file(
            args.policy, ip=args.ip, path=args.path, method=args.method
        )
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_UNUSABLE

    if args.format == "json":
        print(json.dumps(found.to_dict(), indent=2, sort_keys=True))
    else:
        print("\n".join(found.lines()))
    return EXIT_YES if found.decision.allowed else EXIT_NO
