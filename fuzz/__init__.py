"""Coverage-guided fuzz harnesses for every parser of the library.

Run one with ``python -m fuzz.run TARGET --seconds N``; see ``fuzz/README.md``.
This package imports nothing from :mod:`policy` itself, so the runner can
import the library under atheris' instrumentation.
"""

__all__ = ["TARGET_NAMES"]

# The harnesses, by name; ``fuzz.harnesses.TARGETS`` maps each to its function.
TARGET_NAMES = (
    "allowlist",
    "endpoints",
    "path",
    "check",
    "policy_file",
    "access_log",
    "forwarded",
)
