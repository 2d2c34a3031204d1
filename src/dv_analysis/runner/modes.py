"""Who may read what a run writes (docs/reports.md, "Tiers").

Internal files (``data_clean/``, ``reports/<period>/internal/``, staging, the fit cache,
the manifest) hold case-level or model-level detail: a run writes them with umask 077,
so they are the owner's alone (files 600, folders 700), kernels and workers included
(they inherit the umask). The staff and public tiers are opened afterwards (files 644,
folders 755), with the folders above them traversable, so that staff can read the pages
on a shared machine while the internal folder beside them stays closed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The umask of a run: nothing for the group or others.
PRIVATE_UMASK = 0o077
#: The tiers of a period's reports that others may read.
READABLE_TIERS = ("staff", "public")


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created inside the block are the owner's alone (umask 077)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def open_readable_tiers(period_reports: Path) -> None:
    """Make ``staff/`` and ``public/`` of a period's reports readable by others (files
    644, folders 755) and the period folder and the reports folder traversable (755);
    ``internal/`` and the manifest keep their owner-only modes."""
    for folder in (period_reports.parent, period_reports):
        if folder.is_dir():
            folder.chmod(0o755)
    for tier in READABLE_TIERS:
        root = period_reports / tier
        if not root.is_dir():
            continue
        for path in (root, *root.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
