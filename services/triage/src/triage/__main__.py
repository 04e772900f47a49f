"""``python -m triage``: the same as the ``triage`` command (``triage.cli.main``)."""

import sys

from triage.cli import main

if __name__ == "__main__":
    sys.exit(main())
