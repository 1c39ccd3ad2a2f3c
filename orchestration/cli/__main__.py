"""`python -m orchestration.cli`: the console script without the installed wrapper."""

from orchestration.cli.main import main

raise SystemExit(main())
