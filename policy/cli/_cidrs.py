"""``policy cidrs``: an allowlist as a minimal CIDR list, one a line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from policy._errors import PolicyError, shown
from policy._files import is_policy_path, read_allowlist_file
from policy._policyfile import load_policy
from policy.cli._common import EXIT_UNUSABLE, EXIT_YES, Subparsers

__all__ = ["register", "run"]

# What a policy without an allowlist admits.
_EVERY_ADDRESS = ("0.0.0.0/0", "::/0")


def register(subparsers: Subparsers) -> None:
    """Add the ``cidrs`` subcommand."""
    parser = subparsers.add_parser(
        "cidrs",
        help="print an allowlist as a minimal CIDR list",
        description="Print the addresses an allowlist admits (a bare "
        "allowlist file, or the ip_allowlist of a policy file) as the fewest "
        "CIDRs that cover exactly them, IPv4 then IPv6, one a line. The "
        "output is itself a valid allowlist. Exit 2 when the file cannot be "
        "used.",
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the CIDRs."""
    path: Path = args.file
    try:
        if is_policy_path(path):
            allowlist = load_policy(path).allowlist
        else:
            allowlist = read_allowlist_file(path)
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(diagnostic.format(), file=sys.stderr)
        return EXIT_UNUSABLE

    if allowlist is None:
        print(
            f"policy: {shown(str(path))} has no allowlist: every address",
            file=sys.stderr,
        )
        cidrs: list[str] = list(_EVERY_ADDRESS)
    else:
        cidrs = allowlist.to_cidrs()
    sys.stdout.write("".join(f"{cidr}\n" for cidr in cidrs))
    return EXIT_YES
