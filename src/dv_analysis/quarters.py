"""Calendar quarters: :class:`Period` (``2020Q4``), ranges and windows of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from dv_analysis.errors import ParameterError

__all__ = ["Period", "period_range", "window_periods"]

_PERIOD_RE = re.compile(r"^\s*(\d{4})\s*[-_ ]?[Qq]([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar quarter, written ``2020Q4``."""

    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Parse ``2020Q4`` (also ``2020-Q4``, ``2020q4``); raise ``ValueError`` otherwise."""
        if isinstance(text, Period):
            return text
        m = _PERIOD_RE.match(str(text))
        if not m:
            raise ParameterError(f"period {text!r} is not a quarter like 2020Q4")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of_date(cls, d: date) -> Period:
        """The quarter a date falls in."""
        return cls(d.year, (d.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> date:
        """First day of the quarter."""
        return date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> date:
        """Last day of the quarter."""
        nxt = self.next()
        return date.fromordinal(date(nxt.year, 3 * nxt.quarter - 2, 1).toordinal() - 1)

    @property
    def end_month(self) -> str:
        """The quarter-end month as ``YYYY-MM`` (the population files' key)."""
        return f"{self.year}-{3 * self.quarter:02d}"

    def months(self) -> list[str]:
        """The three months of the quarter as ``YYYY-MM``."""
        return [f"{self.year}-{3 * self.quarter - 2 + i:02d}" for i in range(3)]

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def back(self, quarters: int) -> Period:
        """The quarter ``quarters`` before this one (``back(4)``: the same quarter a year ago)."""
        o = self.ordinal() - quarters
        return Period(o // 4, o % 4 + 1)

    def ordinal(self) -> int:
        """Quarters since year 0, for arithmetic."""
        return self.year * 4 + self.quarter - 1


def period_range(start: str | Period, end: str | Period) -> list[Period]:
    """All quarters from ``start`` to ``end`` inclusive."""
    a, b = Period.parse(start), Period.parse(end)
    if b < a:
        raise ParameterError(f"period range {a}..{b} is empty: the end is before the start")
    out = [a]
    while out[-1] < b:
        out.append(out[-1].next())
    return out


def window_periods(period: str | Period, window: int) -> list[Period]:
    """The ``window`` quarters ending with ``period``."""
    p = Period.parse(period)
    return period_range(p.back(window - 1), p)
