"""``python -m tactful``: the same command line as the ``tactful`` script."""

from tactful.cli import main

raise SystemExit(main())
