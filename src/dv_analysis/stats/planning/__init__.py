"""Where services reach and where they should stand: distances and two-step floating
catchment (accessibility), and the service plan's location models over posterior draws
(MCLP, p-median, LSCP) with the staff split (location)."""

__all__ = ["accessibility", "location"]
