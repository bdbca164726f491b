"""``python -m seglosses``: the ``seglosses`` command."""

import sys

from seglosses.cli import main

sys.exit(main())
