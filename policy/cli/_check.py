"""``policy check``: decide one request against a policy file."""

from __future__ import annotations

import argparse
import json

from policy.cli._common import (
    EXIT_NO,
    EXIT_UNUSABLE,
    EXIT_YES,
    Subparsers,
    add_request_arguments,
    load_or_fail,
)

__all__ = ["register"]


def register(subparsers: Subparsers) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser(
        "check",
        help="decide one request",
        description="Decide whether a request from IP to PATH may go through. "
        "Exit 0 if allowed, 1 if denied, 2 if the policy cannot be used.",
    )
    add_request_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the decision; the exit status says allowed or denied."""
    policy = load_or_fail(args.policy)
    if policy is None:
        return EXIT_UNUSABLE

    decision = policy.check(ip=args.ip, path=args.path, method=args.method)

    if args.format == "json":
        print(json.dumps(decision.to_dict(), sort_keys=True))
    else:
        verdict = "allowed" if decision.allowed else "denied"
        print(f"{verdict} ({decision.reason.value}): {decision.detail}")
    return EXIT_YES if decision.allowed else EXIT_NO
