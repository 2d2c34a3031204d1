"""The synthetic exports: raw format, volumes, mix, mess and determinism."""

import hashlib

import numpy as np
import pandas as pd

from dv_analysis.stages.clean import read_raw_file
from dv_analysis.synth import RAW_COLUMNS, SynthConfig, format_date, generate
from dv_analysis.synth import truth as synth_truth

from ..conftest import make_settings


def _digest(folder):
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f.relative_to(folder).as_posix().encode())
        h.update(f.read_bytes() if f.suffix != ".xlsx" else _xlsx_cells(f))
    return h.hexdigest()


def _xlsx_cells(path):
    # xlsx zips carry timestamps; compare the cell contents instead
    return pd.read_excel(path, dtype=str).to_csv().encode()


def test_same_seed_same_files_different_seed_different(tmp_path):
    digests = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        s = make_settings(tmp_path / name)
        generate(
            s, SynthConfig(start="2020Q4", end="2020Q4", seed=seed, scale=0.05), progress=False
        )
        digests.append((_digest(s.raw_dir), _digest(s.truth_dir)))
    assert digests[0] == digests[1]
    assert digests[0][0] != digests[2][0]


def test_format_dates():
    from datetime import date

    d = date(2016, 3, 7)
    assert [format_date(d, i) for i in range(5)] == [
        "105/03/07",
        "105.3.7",
        "1050307",
        "2016-03-07",
        "2016/3/7",
    ]


def test_raw_files_follow_the_schema(year_of_data):
    s, summary, _ = year_of_data
    files = sorted((s.raw_dir / "2020Q4").iterdir())
    assert files
    for f in files:
        rf = read_raw_file(f)
        assert not rf.missing_optional, f"{f.name} lacks {rf.missing_optional}"
        header = pd.read_excel(f, nrows=0).columns if f.suffix == ".xlsx" else None
        if header is not None:
            assert set(RAW_COLUMNS) <= set(header)


def test_volume_and_case_mix(year_of_data):
    s, summary, results = year_of_data
    per_year = sum(p["notifications"] for p in summary["periods"].values())
    assert 11_500 <= per_year <= 14_500, per_year  # about 13,000 a year for Taipei
    notes = pd.concat([r.notifications for r in results.values()])
    share = notes["case_type"].value_counts(normalize=True)
    assert abs(share["親密關係暴力"] - 0.48) < 0.04
    assert abs(share["兒少保護"] - 0.16) < 0.03
    assert abs(share["老人虐待"] - 0.07) < 0.02
    # several notifications per incident, from different units
    inc = pd.concat([r.incidents for r in results.values()])
    assert 1.3 < len(notes) / len(inc) < 1.7
    assert (inc.loc[inc["n_notifications"] > 1, "n_units"] > 1).all()
    # repeat victims across quarters
    q = {k: set(r.notifications["victim_key"]) for k, r in results.items()}
    assert len(q["2020Q1"] & q["2020Q4"]) > 50


def test_every_kind_of_mess_is_present(year_of_data):
    s, _, _ = year_of_data
    truth = pd.concat(synth_truth.read_rows(s, q) for q in ("2020Q2", "2020Q3", "2020Q4"))
    assert set(truth["encoding"]) >= {"xlsx", "cp950"} and set(truth["encoding"]) & {
        "utf-8",
        "utf-8-sig",
    }
    assert set(truth["coords"]) == {"lonlat", "twd97"}
    injected = set(";".join(truth["injected"]).split(";")) - {""}
    assert injected >= {
        "missing_id",
        "fullwidth_date",
        "bad_date",
        "incident_after_notification",
        "out_of_city",
        "unlocatable",
        "duplicate_exact",
        "duplicate_cross_file",
        "reexport_previous",
    }
    raw = pd.concat(read_raw_file(f).frame for f in sorted((s.raw_dir / "2020Q4").iterdir()))
    assert raw["city_raw"].str.contains("台").any() and raw["city_raw"].str.contains("臺").any()
    assert raw["code_raw"].str.contains("-").any()
    assert raw["victim_age_raw"].str.endswith("歲").any()
    assert raw["case_type_raw"].isin(["兒少", "老人", "其他", "婚姻/離婚/同居關係暴力"]).any()
    assert raw["unit_raw"].isin(["警察局", "醫療院所", "學校", "法院", "保護專線"]).any()


def test_truth_records_the_model(year_of_data):
    s, _, _ = year_of_data
    params = synth_truth.read_params(s)
    assert {c["type"] for c in params["clusters"]} >= {
        "persistent",
        "new",
        "intensifying",
        "fading",
        "cold",
    }
    vt = synth_truth.read_village_truth(s)
    assert len(vt) == 456 * 4
    # remote villages are under-reported: reporting probability falls with remoteness
    v = vt.drop_duplicates("villcode")
    assert np.corrcoef(v["remoteness"], v["report_prob"])[0, 1] < -0.5
    assert 10 <= len(params["under_reported_villages"]) <= 120
    # Yangmingshan hill villages of Shilin/Beitou are among the least reachable
    hill = v[v["villname"].isin(["菁山里", "平等里", "湖田里"])]
    assert (hill["report_prob"] < v["report_prob"].median()).all()
    # the new cluster switches on late
    new = next(c for c in params["clusters"] if c["type"] == "new")
    m = list(new["multiplier"].values())
    assert m[0] == 1.0 and m[-1] > 2
