"""`python -m autograd_core ...` runs the `autograd-core` command."""

from .cli import main

raise SystemExit(main())
