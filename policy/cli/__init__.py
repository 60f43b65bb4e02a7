"""The ``policy`` command.

Every subcommand keeps one meaning of the exit status: 0 when the answer is
yes (allowed, clean, done), 1 when it is no (denied, lint errors), 2 when the
policy or the arguments cannot be used, with the error on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from policy._errors import shown
from policy.cli import (
    _check,
    _cidrs,
    _diff,
    _explain,
    _lint,
    _replay,
    _serve,
    _token,
)
from policy.cli._common import EXIT_UNUSABLE

__all__ = ["build_parser", "main"]

_SUBCOMMANDS = (
    _check,
    _lint,
    _replay,
    _explain,
    _diff,
    _cidrs,
    _token,
    _serve,
)


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors shown safely.

    Its messages quote what was typed ("unrecognized arguments: ..."), and a
    secret pasted into the wrong option or a control character must not be
    printed as typed.  Subcommand parsers are of this class too.
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNUSABLE, f"{self.prog}: error: {shown(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every subcommand registered."""
    parser = _Parser(
        prog="policy",
        description="Decide whether an API request made with an access token "
        "may go through: IP allowlists, endpoint scopes, token lifetimes.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in _SUBCOMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe whose encoding cannot write a character (a
        # replaced byte from a log, an address in a name) gets an escape
        # instead of a crash.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        print("policy: interrupted", file=sys.stderr)
        return EXIT_UNUSABLE
    except BrokenPipeError:
        # The reader went away (``policy replay ... | head``).  Point stdout
        # at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_UNUSABLE
    return status
