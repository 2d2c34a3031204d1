"""Every stage's parameters are checked when they are made, and the command line prints
the suite's own errors as one line with the fix while a bug keeps its traceback."""

from __future__ import annotations

import pytest

from dv_analysis import cli
from dv_analysis.errors import DVAnalysisError, InputError, ParameterError
from dv_analysis.stages.access import AccessParams
from dv_analysis.stages.clean import CleanParams
from dv_analysis.stages.features import FeatureParams
from dv_analysis.stages.hotspots import HotspotParams
from dv_analysis.stages.plan import PlanParams
from dv_analysis.stages.priority import PriorityParams
from dv_analysis.stages.report import ReportParams
from dv_analysis.stages.risk import RiskParams

BAD = [
    (CleanParams, {"incident_window_days": -1}, "incident_window_days -1: must be at least 0"),
    (FeatureParams, {"weights": "hexagon"}, "weights 'hexagon': use queen, rook"),
    (FeatureParams, {"window": 0}, "window 0: must be at least 1"),
    (HotspotParams, {"alpha": 1.5}, "alpha 1.5: must lie between 0 and 1"),
    (HotspotParams, {"weights": "knn:0"}, "weights 'knn:0'"),
    (RiskParams, {"engine": "inla"}, "unknown engine 'inla': one of laplace, nuts"),
    (RiskParams, {"strategy": "grid"}, "strategy 'grid': one of importance, eb"),
    (RiskParams, {"risk_window": 1}, "risk_window 1: the space-time model needs at least 2"),
    (RiskParams, {"count": "incidents_w"}, "count 'incidents_w'"),
    (AccessParams, {"access_quantile": 1.0}, "access_quantile 1.0: must lie between 0 and 1"),
    (PriorityParams, {"budget": 0}, "budget 0: must be at least 1"),
    (PriorityParams, {"rise": 1.0}, "rise 1.0: must be above 1"),
    (ReportParams, {"public_level": "street"}, "public_level 'street': one of district, village"),
    (PlanParams, {"threshold_min": 0.0}, "threshold_min 0.0: must be above 0"),
]


@pytest.mark.parametrize(("cls", "fields", "message"), BAD, ids=lambda x: str(x)[:30])
def test_a_bad_value_stops_when_the_parameters_are_made(cls, fields, message):
    with pytest.raises(ParameterError) as info:
        cls(**fields)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)  # code that caught ValueError still does


@pytest.mark.parametrize(
    "cls",
    [CleanParams, FeatureParams, HotspotParams, RiskParams, AccessParams, PriorityParams,
     ReportParams, PlanParams],
)  # fmt: skip
def test_the_defaults_pass_their_own_checks(cls):
    cls()


def test_the_cli_prints_the_suites_error_as_one_line_with_the_fix(monkeypatch, capsys):
    def check(folder, public_level):
        raise InputError("cases.csv, row 7, column '通報日期':\n  '2020-13-01' is not a date")

    monkeypatch.setattr("dv_analysis.disclosure.check", check)
    assert cli.main(["audit", "somewhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err == (
        "dv-analysis audit: error: cases.csv, row 7, column '通報日期': '2020-13-01' is not a"
        " date (fix: correct the file, row and column named, then run again)"
    )


def test_a_bug_keeps_its_traceback(monkeypatch):
    def check(folder, public_level):
        raise KeyError("a bug")

    monkeypatch.setattr("dv_analysis.disclosure.check", check)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["audit", "somewhere"])


def test_every_error_of_the_suite_has_one_base():
    from dv_analysis.disclosure import AuditFailed
    from dv_analysis.runner.addons import CoreIncomplete
    from dv_analysis.runner.locks import PeriodLocked
    from dv_analysis.runner.notebook import NotebookFailed
    from dv_analysis.stages.clean import RawInputError

    for cls in (AuditFailed, CoreIncomplete, PeriodLocked, NotebookFailed, RawInputError):
        assert issubclass(cls, DVAnalysisError), cls
