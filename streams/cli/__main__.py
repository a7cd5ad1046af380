"""``python -m streams.cli``: the same as the ``mpwatch`` entry point (tests use it without installing)."""

import sys

from streams.cli import main

sys.exit(main())
