"""``python -m fleet``: the same as the ``fleet`` command."""

from fleet.cli import main

if __name__ == "__main__":
    main()
