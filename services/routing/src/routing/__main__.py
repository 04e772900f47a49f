"""``routing``: run the routing service."""

from routing.app import main

if __name__ == "__main__":
    main()
