"""``python -m worker``: the command line."""

from .cli import main

raise SystemExit(main())
