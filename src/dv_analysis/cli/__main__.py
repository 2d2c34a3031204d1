"""``python -m dv_analysis.cli``: the same as the ``dv-analysis`` command."""

from dv_analysis.cli import main

raise SystemExit(main())
