"""``python -m bangwo8_async`` runs the ``bangwo8`` command line."""

import sys

from .cli import main

sys.exit(main())
