"""``python -m xlingual`` (also what ``torchrun -m xlingual`` runs)."""

import sys

from .cli import main

sys.exit(main())
