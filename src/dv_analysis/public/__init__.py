"""The real public layers: loaders, name normalisation and the join reports.

Every file is named once, in :data:`dv_analysis.config.PUBLIC_FILES`; the loaders of
:mod:`.loaders` read them from the configured public-data folder and join them to the
village boundaries with :mod:`.names` (NFKC, 台/臺, district and village keys). A new
public layer is one entry in the catalogue, one loader here and, if it covers only some
cities, one entry in :data:`VILLAGE_LAYER_CITIES`.
"""

from . import names as names
from .loaders import *  # noqa: F403 - the loaders are this package's interface
from .loaders import __all__ as _loaders

__all__ = ["names", *_loaders]
