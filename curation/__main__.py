"""``python -m curation`` is the ``curate`` CLI."""

import sys

from curation.cli import main

sys.exit(main())
