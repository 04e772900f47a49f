"""``intake``: run the intake service."""

from intake.app import main

if __name__ == "__main__":
    main()
