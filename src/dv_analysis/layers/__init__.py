"""The real public layers: loaders, name normalisation and the join reports.

Every file is named once, in :data:`dv_analysis.config.PUBLIC_FILES`; the loaders of
:mod:`.boundaries`, :mod:`.population`, :mod:`.vital_events`, :mod:`.points` and
:mod:`.village_tables` read them from the configured public-data folder and join them to
the village boundaries (:mod:`.join`) with :mod:`.names` (NFKC, 台/臺, district and
village keys); :mod:`.memo` keeps the parsed layers by content. A new
public layer is one entry in the catalogue, one loader here and, if it covers only some
cities, one entry in :data:`VILLAGE_LAYER_CITIES`.
"""

from dv_analysis.layers import names as names
from dv_analysis.layers.boundaries import district_label, load_boundaries
from dv_analysis.layers.join import CRS_LONLAT, CRS_METRIC, match_villages
from dv_analysis.layers.names import village_name_index
from dv_analysis.layers.points import (
    load_bus_stops,
    load_medical,
    load_metro_exits,
    load_metro_lines,
    load_metro_stations,
    load_police,
    load_welfare_facilities,
    load_youbike,
)
from dv_analysis.layers.population import (
    POPULATION_COLUMNS,
    POPULATION_COLUMNS_INV,
    POPULATION_COUNTS,
    available_population_months,
    load_population,
    population_month_for,
    reassign_unmatched_population,
)
from dv_analysis.layers.village_tables import (
    VILLAGE_LAYER_CITIES,
    covers,
    load_children_0to5,
    load_welfare_recipients,
)
from dv_analysis.layers.vital_events import load_vital_events, read_vital_events_file, roc_month

__all__ = [
    "names",
    "CRS_LONLAT",
    "CRS_METRIC",
    "POPULATION_COLUMNS",
    "POPULATION_COLUMNS_INV",
    "POPULATION_COUNTS",
    "VILLAGE_LAYER_CITIES",
    "available_population_months",
    "covers",
    "district_label",
    "load_boundaries",
    "load_bus_stops",
    "load_children_0to5",
    "load_medical",
    "load_metro_exits",
    "load_metro_lines",
    "load_metro_stations",
    "load_police",
    "load_population",
    "load_vital_events",
    "load_welfare_facilities",
    "load_welfare_recipients",
    "load_youbike",
    "match_villages",
    "population_month_for",
    "read_vital_events_file",
    "reassign_unmatched_population",
    "roc_month",
    "village_name_index",
]
