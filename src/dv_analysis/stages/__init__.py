"""Stages: one module per notebook.

A stage reads its inputs through :mod:`dv_analysis.config` (the paths of a period),
calls :mod:`dv_analysis.stats`, and writes its outputs to ``data_clean/<period>/``.
Each stage has one frozen parameters dataclass, shared by its notebook, the command
line and the tests; ``tests/test_repo.py`` checks that every notebook's ``parameters``
cell has the same defaults.

========================  =====================  ====================
notebook                  stage                  parameters
========================  =====================  ====================
``01_clean``              :mod:`.clean`          ``CleanParams``
``02_village_features``   :mod:`.features`       ``FeatureParams``
``03_hotspots``           :mod:`.hotspots`       ``HotspotParams``
``03b_village_risk``      :mod:`.risk`           ``RiskParams``
``04_accessibility``      :mod:`.access`         ``AccessParams``
``04b_priority``          :mod:`.priority`       ``PriorityParams``
``05_report``             :mod:`.report`         ``ReportParams``
``06_service_plan``       :mod:`.plan`           ``PlanParams``
``07_caseload``           :mod:`.caseload`       ``CaseloadParams``
========================  =====================  ====================

Beside them: :mod:`.cache` (fits kept by the content of their inputs), :mod:`.rises` (the
early warning and reporting changes of ``04b_priority``), :mod:`.kpi` (the report's quarterly
indicators, ``kpi.parquet``), :mod:`.overlay` (``dv-analysis overlay``: another layer beside
the risk, run on demand, not a notebook) and :mod:`.params` (the checks). The commands on
any layer the analyst gives (``dv-analysis hotspots`` and ``smooth``) are
:mod:`dv_analysis.cli.any_layer`.
"""

#: The package's modules (``from dv_analysis.stages import *`` imports them).
__all__ = [
    "access",
    "cache",
    "caseload",
    "clean",
    "features",
    "hotspots",
    "kpi",
    "overlay",
    "params",
    "plan",
    "priority",
    "report",
    "rises",
    "risk",
]
