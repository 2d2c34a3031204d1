"""Every path the suite reads or writes, built in one place.

Nothing else in the package or the notebooks hard-codes a path: they ask a
:class:`Settings` for the directories and a :class:`PeriodPaths` for the files of
one period (the idea of cookiecutter-data-science's ``config.py``).

Directory settings are resolved in this order: an explicit argument (a command-line
flag or a notebook parameter), then an environment variable, then the default
relative to the project root:

=============  ======================  ==============================
setting        environment variable    default
=============  ======================  ==============================
public_dir     ``DV_PUBLIC_DIR``       ``<root>/../shared/data/public``
raw_dir        ``DV_RAW_DIR``          ``<root>/data_raw``
clean_dir      ``DV_CLEAN_DIR``        ``<root>/data_clean``
reports_dir    ``DV_REPORTS_DIR``      ``<root>/reports``
truth_dir      ``DV_TRUTH_DIR``        ``<root>/data_truth``
=============  ======================  ==============================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from dv_analysis.errors import MissingInputError, ParameterError
from dv_analysis.quarters import Period as Period  # quarters live in .period; imported here too
from dv_analysis.quarters import period_range as period_range
from dv_analysis.quarters import window_periods as window_periods

#: City codes (COUNTYCODE in the MOI boundaries) the suite knows by name.
CITIES: dict[str, str] = {
    "63000": "臺北市",
    "65000": "新北市",
    "68000": "桃園市",
    "all": "全國",  # every village of Taiwan (7,701 in the 2021 boundaries)
}
DEFAULT_CITY = "63000"


@dataclass(frozen=True)
class Notebook:
    """One notebook of a period: the single registry entry everything else derives from
    (the run order, the scheduling graph, the sequential ones, the parameters test)."""

    name: str  # file in notebooks/
    stage: str  # module under dv_analysis.stages
    params: str  # its frozen parameters dataclass
    needs: tuple[str, ...] = ()  # notebooks of the period whose outputs it reads
    sequential: bool = False  # reads the previous quarter's outputs: quarters run in order
    addon: bool = False  # a plan built on the audited core: run after the core is promoted;
    # its failure is recorded (manifest, front page), never withholds the core (issue 40)


#: The notebooks of a period, in run order. A new notebook is one entry here
#: (docs/architecture.md, "A new notebook"); ``tests/test_repo.py`` checks that every
#: notebook file has an entry, every entry a file, and the parameters cell its dataclass.
NOTEBOOK_REGISTRY: tuple[Notebook, ...] = (
    Notebook("01_clean.ipynb", "clean", "CleanParams", sequential=True),
    Notebook("02_village_features.ipynb", "features", "FeatureParams", ("01_clean.ipynb",)),
    Notebook("03_hotspots.ipynb", "hotspots", "HotspotParams", ("02_village_features.ipynb",)),
    Notebook("03b_village_risk.ipynb", "risk", "RiskParams", ("02_village_features.ipynb",)),
    Notebook(
        "04_accessibility.ipynb",
        "access",
        "AccessParams",
        ("02_village_features.ipynb", "03_hotspots.ipynb"),
    ),
    Notebook(
        "04b_priority.ipynb",
        "priority",
        "PriorityParams",
        ("03_hotspots.ipynb", "03b_village_risk.ipynb", "04_accessibility.ipynb"),
    ),
    Notebook(
        "05_report.ipynb",
        "report",
        "ReportParams",
        (
            "03_hotspots.ipynb",
            "03b_village_risk.ipynb",
            "04_accessibility.ipynb",
            "04b_priority.ipynb",
        ),
    ),
    Notebook(
        "06_service_plan.ipynb",
        "plan",
        "PlanParams",
        ("03b_village_risk.ipynb", "04_accessibility.ipynb", "04b_priority.ipynb"),
        addon=True,
    ),
    Notebook(
        "07_caseload.ipynb",
        "caseload",
        "CaseloadParams",
        ("03b_village_risk.ipynb", "04_accessibility.ipynb"),
        addon=True,
    ),
)

NOTEBOOKS: tuple[str, ...] = tuple(n.name for n in NOTEBOOK_REGISTRY)
#: Notebooks run after the period's core outputs are audited and in place (the plans).
ADDON_NOTEBOOKS: tuple[str, ...] = tuple(n.name for n in NOTEBOOK_REGISTRY if n.addon)

#: What each notebook reads of the others of its period (a notebook starts when these have
#: finished; ``dv-analysis run`` with ``--jobs`` > 1 runs independent ones at once).
NOTEBOOK_NEEDS: dict[str, tuple[str, ...]] = {n.name: n.needs for n in NOTEBOOK_REGISTRY}


#: Every file of the public layers the suite reads, relative to the public-data folder.
#: Monthly layers carry ``{month}`` (``YYYY-MM``). A new public layer starts here.
PUBLIC_FILES: dict[str, str] = {
    "boundaries": "boundaries/taiwan_villages_moi_2021.topojson.json",
    "population": "population/village_population_{month}.csv",
    "vital_events": "vital_events/village_vital_events_{month}.csv",
    "metro_stations": "transit/metro_stations_tdx_2023.csv",
    "metro_exits": "transit/metro_exits_2021.csv",
    "metro_lines": "transit/metro_lines_tdx_2023.geojson",
    "bus_stops": "transit/bus_stops_tdx_2023.csv",
    "youbike": "transit/youbike_stations_2024-12-07.csv",
    "police": "facilities/police_stations.csv",
    "welfare_facilities": "facilities/social_welfare_facilities.csv",
    "medical": "facilities/medical_institutions.csv",
    "welfare_recipients": "welfare/village_welfare_recipients_2023.csv",
    "children_0to5": "welfare/village_children_0to5_2023.csv",
}


def project_root() -> Path:
    """The project's root folder (the one holding ``pyproject.toml``).

    ``DV_PROJECT_ROOT`` overrides it; otherwise it is found from this file's
    location (an editable install) or, failing that, the current directory.
    """
    env = os.environ.get("DV_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "src" / "dv_analysis").exists():
            return parent
    return Path.cwd().resolve()


def cache_dir() -> Path:
    """What runs keep between them: ``DV_CACHE_DIR`` or ``<root>/.cache``.

    JAX's compiled sampler (``jax/``) and the public layers as parsed and matched
    (``public/``, :mod:`dv_analysis.layers.memo`): no case data; safe to delete (the next
    run compiles and reads again).
    """
    env = os.environ.get("DV_CACHE_DIR")
    return Path(env).expanduser().resolve() if env else project_root() / ".cache"


#: The first quarter with a population register (the panel starts there).
FIRST_REGISTER_QUARTER = Period(2014, 2)
#: Quarters of the rolling window of counts and rates (02's ``window``, also 03 and 04b).
WINDOW_QUARTERS = 4
#: Quarters of counts the village-risk model reads (03b's ``risk_window``, also 04b's): three
#: years, so that a village of ×1.8 risk stands out from the city (docs/risk_model.md).
RISK_WINDOW_QUARTERS = 12


def _resolve(value: str | os.PathLike | None, env: str, default: Path) -> Path:
    """An explicit value wins, then the environment variable, then the default."""
    if value not in (None, ""):
        return Path(value).expanduser().resolve()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser().resolve()
    return default.resolve()


@dataclass(frozen=True)
class Settings:
    """The directories of one run. Build it with :meth:`Settings.from_args`."""

    public_dir: Path
    raw_dir: Path
    clean_dir: Path
    reports_dir: Path
    truth_dir: Path
    city: str = DEFAULT_CITY
    #: Quarters whose outputs this run writes to the staging folders (``.staging/<period>``
    #: under the clean and reports folders) until every notebook and the audit have passed;
    #: set by ``dv-analysis run``, empty when a notebook is run by hand.
    staging: frozenset[str] = frozenset()

    @classmethod
    def from_args(
        cls,
        public_dir: str | os.PathLike | None = None,
        raw_dir: str | os.PathLike | None = None,
        clean_dir: str | os.PathLike | None = None,
        reports_dir: str | os.PathLike | None = None,
        truth_dir: str | os.PathLike | None = None,
        city: str | int = DEFAULT_CITY,
        staging: str = "",
    ) -> Settings:
        """Resolve each directory from the argument, its environment variable or the default.

        ``staging`` names the quarters (comma-separated, as the notebooks' ``staging``
        parameter) whose outputs go to the staging folders first.
        """
        root = project_root()
        city = str(city)
        if city not in CITIES:
            raise ParameterError(
                f"city {city!r} is not one of {', '.join(CITIES)} ({', '.join(CITIES.values())})"
            )
        return cls(
            public_dir=_resolve(
                public_dir, "DV_PUBLIC_DIR", root.parent / "shared" / "data" / "public"
            ),
            raw_dir=_resolve(raw_dir, "DV_RAW_DIR", root / "data_raw"),
            clean_dir=_resolve(clean_dir, "DV_CLEAN_DIR", root / "data_clean"),
            reports_dir=_resolve(reports_dir, "DV_REPORTS_DIR", root / "reports"),
            truth_dir=_resolve(truth_dir, "DV_TRUTH_DIR", root / "data_truth"),
            city=city,
            staging=frozenset(str(Period.parse(q)) for q in staging.split(",") if q.strip()),
        )

    def with_staging(self, *periods: str | Period) -> Settings:
        """These settings with ``periods`` written to the staging folders."""
        return replace(self, staging=frozenset(str(Period.parse(p)) for p in periods))

    @property
    def unstaged(self) -> Settings:
        """These settings writing every period to its final folders."""
        return replace(self, staging=frozenset())

    @property
    def staging_parameter(self) -> str:
        """The staged quarters as the notebooks' ``staging`` parameter."""
        return ",".join(sorted(self.staging))

    @property
    def fit_cache(self) -> Path:
        """Village-risk fits kept by content (internal, like every clean table)."""
        return self.clean_dir / ".cache" / "bym2"

    def lock_file(self, period: str | Period) -> Path:
        """The lock of a period's run (one per period and reports folder)."""
        return self.reports_dir / ".locks" / f"{Period.parse(period)}.lock"

    def check_public_dir(self) -> None:
        """Fail with a clear message if the public-data directory is missing."""
        if not (self.public_dir / "boundaries").is_dir():
            raise MissingInputError(
                f"public-data directory {self.public_dir} has no boundaries/ folder; "
                "point --public-dir or DV_PUBLIC_DIR at the shared public layers"
            )

    def period(self, period: str | Period) -> PeriodPaths:
        """The paths of one period."""
        return PeriodPaths(self, Period.parse(period))

    # --- public layers: every file named in PUBLIC_FILES ------------------
    def public_file(self, layer: str, **fields: str) -> Path:
        """The file of a public layer named in :data:`PUBLIC_FILES`, e.g. ``public_file('bus_stops')``.

        Monthly layers take the month: ``public_file('population', month='2020-12')``.
        """
        if layer not in PUBLIC_FILES:
            raise KeyError(f"no public layer {layer!r}; known: {', '.join(PUBLIC_FILES)}")
        return self.public_dir / PUBLIC_FILES[layer].format(**fields)

    def public_folder(self, layer: str) -> Path:
        """The folder holding a public layer's file(s) (for monthly layers: every month)."""
        return self.public_file(layer, month="0000-00").parent

    def public_months(self, layer: str) -> list[Path]:
        """Every file of a monthly layer, oldest first."""
        return sorted(self.public_dir.glob(PUBLIC_FILES[layer].format(month="*")))

    @property
    def boundaries_file(self) -> Path:
        return self.public_file("boundaries")

    def population_file(self, month: str) -> Path:
        return self.public_file("population", month=month)

    def vital_events_file(self, month: str) -> Path:
        return self.public_file("vital_events", month=month)

    # --- synthetic ground truth ------------------------------------------
    @property
    def truth_city_dir(self) -> Path:
        return self.truth_dir / self.city


#: The files of a period's clean folder (``data_clean/<period>``) by attribute name:
#: ``paths.village_risk`` is ``paths.clean / "village_risk.parquet"``.
CLEAN_FILES: dict[str, str] = {
    # Checksums of the raw files the clean tables were made from (stale when they differ).
    "clean_key": "clean.key",
    "notifications": "notifications.parquet",
    "incidents": "incidents.parquet",
    "quarantine": "quarantine.parquet",
    # Rows recognised as duplicates: file, row, reason, notification id.
    "duplicates": "duplicates.parquet",
    # Columns of the exports the schema does not know, kept aside with their rows.
    "extra_columns": "extra_columns.parquet",
    "cleaning_summary": "cleaning_summary.json",
    # Per reporting unit and quarter (this one and the earlier ones): rows, how they were
    # located, what was missing, duplicated or quarantined, and the flag of a departure.
    "data_quality": "data_quality.parquet",
    "village_features": "village_features.parquet",
    "village_panel": "village_panel.parquet",
    # Incidents per village, quarter and the unit that first reported them (long).
    "village_units": "village_units.parquet",
    "hotspots": "hotspots.parquet",
    "emerging_hotspots": "emerging_hotspots.parquet",
    "gi_panel": "gi_panel.parquet",
    # Gi* of this quarter alone (one slice of every later panel), reused while unchanged.
    "gi_quarter": "gi_quarter.parquet",
    "scan_clusters": "scan_clusters.parquet",
    "hotspot_summary": "hotspot_summary.json",
    # Posterior relative risk of every village (the space-time model).
    "village_risk": "village_risk.parquet",
    # Posterior draws of each village's present relative risk (long: villcode, draw, rr_now):
    # what the service plan reads its demand from.
    "village_risk_draws": "village_risk_draws.parquet",
    # Existing and candidate service sites: how often each is chosen (06).
    "service_plan": "service_plan.parquet",
    # Social workers per district, proposed with intervals (06).
    "staff_allocation": "staff_allocation.parquet",
    # The service plan's new sites, coverage gained and parameters (06).
    "plan_summary": "plan_summary.json",
    # Responsibility areas (1里1主責社工): each village's area, centre, caseload, travel (07).
    "caseload_areas": "caseload_areas.parquet",
    # The areas' band, share in band, travel and workers needed at a ceiling (07).
    "caseload_summary": "caseload_summary.json",
    # Fixed effects, hyperparameters, diagnostics and sampler of the village-risk model.
    "risk_summary": "risk_summary.json",
    # Poisson CUSUM of every village's neighbourhood against its own baseline.
    "early_warning": "early_warning.parquet",
    # Each district, reporting unit and monitored quarter: the unit's incidents against what
    # the district's other units predict, and whether it is a reporting change (04b).
    "reporting_changes": "reporting_changes.parquet",
    # Hit rate and PAI of every ranking at every rolling origin.
    "backtest": "backtest.parquet",
    # The outreach list: rank, tier, reasons and the numbers behind them.
    "village_priority": "village_priority.parquet",
    "priority_summary": "priority_summary.json",
    # The centre's quarterly indicators per district and city, with intervals (docs/kpi.md).
    "kpi": "kpi.parquet",
    # Incidents per quarter, district and case type over every quarter with clean data.
    "trends": "trends.parquet",
    # This quarter's notifications by victim sex, age group, relationship, channel and
    # district.
    "affected": "affected.parquet",
    "accessibility": "accessibility.parquet",
    "risk_factors": "risk_factors.parquet",
    "blind_spots": "blind_spots.parquet",
    "prediction_scores": "prediction_scores.parquet",
}

#: The files and folders of a period's report folder (``reports/<period>``) by attribute name.
REPORT_FILES: dict[str, str] = {
    "internal": "internal",  # analysts only: executed notebooks, the audit
    "staff": "staff",  # aggregates for staff: the HTML pages
    "public": "public",  # disclosure-checked aggregates
    "open_data": "public/open_data",
    "public_map": "public/map_incident_rates.png",
    "manifest": "manifest.json",
}


@dataclass(frozen=True)
class PeriodPaths:
    """Files of one period: raw input folder, clean tables, report folders, manifest."""

    settings: Settings
    period: Period

    @property
    def raw(self) -> Path:
        return self.settings.raw_dir / str(self.period)

    @property
    def is_staged(self) -> bool:
        """True when this run writes the period to the staging folders first."""
        return str(self.period) in self.settings.staging

    @property
    def final(self) -> PeriodPaths:
        """The same period in its final folders (where a staged run is moved when it passes)."""
        return PeriodPaths(self.settings.unstaged, self.period)

    def _home(self, base: Path) -> Path:
        return base / ".staging" / str(self.period) if self.is_staged else base / str(self.period)

    @property
    def clean(self) -> Path:
        return self._home(self.settings.clean_dir)

    @property
    def reports(self) -> Path:
        return self._home(self.settings.reports_dir)

    def __getattr__(self, name: str) -> Path:
        """The one accessor of :data:`CLEAN_FILES` and :data:`REPORT_FILES`."""
        if name in CLEAN_FILES:
            return self.clean / CLEAN_FILES[name]
        if name in REPORT_FILES:
            return self.reports / REPORT_FILES[name]
        raise AttributeError(f"{type(self).__name__!r} has no file or folder {name!r}")

    @property
    def truth(self) -> Path:
        return self.settings.truth_city_dir / str(self.period)

    def previous(self) -> PeriodPaths:
        return PeriodPaths(self.settings, self.period.previous())
