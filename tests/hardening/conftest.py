"""Shared pieces of the hardening tests: the repository root on sys.path.

The fuzz harnesses live in ``fuzz/`` at the repository root, beside the
package rather than inside it; the smoke test imports them from there even
when pytest is started other than by ``python -m pytest`` from the root.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
