"""``python -m triage``: the same as the ``triage`` command (``triage.app.main``)."""

from triage.app import main

if __name__ == "__main__":
    main()
