"""``python -m vanishing`` = the ``vanishing`` command."""

import sys

from .cli import main

sys.exit(main())
