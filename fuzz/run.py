"""Run one fuzz harness under atheris, or replay inputs through it.

Usage::

    python -m fuzz.run TARGET --seconds 60          # fuzz for a minute
    python -m fuzz.run TARGET --replay FILE...      # run saved inputs once
    python -m fuzz.run --list                       # the targets

Fuzzing starts from the seed corpus in ``fuzz/corpus/TARGET``, copied into
a working directory (``--work``, a fresh temporary one by default) so the
inputs the fuzzer adds never touch the repository.  A crashing input is
written under ``--artifacts`` (the working directory by default) and the
exit status is non-zero.  ``--replay`` needs no atheris: it is how a
maintainer reproduces a crash file, and how CI exercises the harnesses
where atheris cannot be installed.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from fuzz import TARGET_NAMES

__all__ = ["CORPUS", "main", "replay"]

CORPUS: Final = Path(__file__).resolve().parent / "corpus"

Harness = Callable[[bytes], None]


def _harnesses(*, instrumented: bool) -> dict[str, Harness]:
    """Import the harnesses, under atheris' coverage instrumentation if asked."""
    if not instrumented:
        module = importlib.import_module("fuzz.harnesses")
    else:
        import atheris  # type: ignore[import-untyped, unused-ignore]

        with atheris.instrument_imports(include=["policy", "fuzz"]):
            module = importlib.import_module("fuzz.harnesses")
    targets: dict[str, Harness] = module.TARGETS
    return targets


def replay(target: str, files: Sequence[Path]) -> int:
    """Run each file through ``target``; return how many failed."""
    harness = _harnesses(instrumented=False)[target]
    failed = 0
    for file in files:
        try:
            harness(file.read_bytes())
        except Exception:
            failed += 1
            print(f"FAIL {file}", file=sys.stderr)
            traceback.print_exc()
    print(f"{target}: {len(files) - failed} of {len(files)} inputs passed")
    return failed


def fuzz(target: str, *, seconds: int, work: Path, artifacts: Path) -> None:
    """Fuzz ``target`` for ``seconds``; exits the process when done."""
    import atheris  # type: ignore[import-untyped, unused-ignore]

    harness = _harnesses(instrumented=True)[target]
    work.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)
    for seed in sorted((CORPUS / target).glob("*")):
        if not (work / seed.name).exists():
            shutil.copyfile(seed, work / seed.name)
    arguments = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-artifact_prefix={artifacts}/",
        # A single input that takes this long is a hang worth reporting.
        "-timeout=20",
        "-rss_limit_mb=2048",
        # Inputs far above the parsers' limits only test the limit checks.
        "-max_len=65536",
        "-print_final_stats=1",
        str(work),
    ]
    atheris.Setup(arguments, harness)
    atheris.Fuzz()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__)
    parser.add_argument("target", nargs="?", help="harness name (see --list)")
    parser.add_argument("--list", action="store_true", help="print the targets")
    parser.add_argument("--seconds", type=int, default=60, help="time to fuzz")
    parser.add_argument("--work", type=Path, help="working corpus directory")
    parser.add_argument("--artifacts", type=Path, help="where crashes are written")
    parser.add_argument("--replay", type=Path, nargs="+", help="inputs to run once")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(TARGET_NAMES))
        return 0
    if args.target not in TARGET_NAMES:
        parser.error(
            f"target must be one of {', '.join(TARGET_NAMES)}, got {args.target!r}"
        )
    if args.replay:
        return 1 if replay(args.target, args.replay) else 0
    if args.seconds < 1:
        parser.error(f"--seconds must be at least 1, got {args.seconds}")
    work = args.work or Path(tempfile.mkdtemp(prefix=f"fuzz-{args.target}-"))
    fuzz(args.target, seconds=args.seconds, work=work, artifacts=args.artifacts or work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
