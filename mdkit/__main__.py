"""``python -m mdkit``: see :mod:`mdkit.cli`."""

from mdkit.cli import main

raise SystemExit(main())
