"""``python -m policy``: the same as the ``policy`` command."""

import sys

from policy.cli import main

sys.exit(main())
