"""Where services reach and where they should stand: distances and two-step floating
catchment (accessibility), the service plan's location models over posterior draws
(MCLP, p-median, LSCP) with the staff split (location), and the responsibility areas of
one worker each (regions, with its local search: moves)."""

__all__ = ["accessibility", "location", "moves", "regions"]
