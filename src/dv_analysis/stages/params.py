"""Checks of the stages' parameter dataclasses, run in their ``__post_init__``: a value that
is not allowed stops with :class:`~dv_analysis.errors.ParameterError` naming the parameter
and what it may be, when the parameters are made (in the notebook's second cell, or by
``dv-analysis run -p``), not minutes later inside a fit."""

from __future__ import annotations

from dv_analysis.errors import ParameterError

__all__ = ["above", "at_least", "between", "one_of", "weights"]


def at_least(name: str, value, low) -> None:
    """``value`` must be at least ``low``."""
    if not value >= low:
        raise ParameterError(f"{name} {value!r}: must be at least {low}")


def above(name: str, value, low) -> None:
    """``value`` must be above ``low``."""
    if not value > low:
        raise ParameterError(f"{name} {value!r}: must be above {low}")


def between(name: str, value, low, high) -> None:
    """``value`` must lie strictly between ``low`` and ``high``."""
    if not low < value < high:
        raise ParameterError(f"{name} {value!r}: must lie between {low} and {high}")


def one_of(name: str, value, choices) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"{name} {value!r}: one of {', '.join(map(str, choices))}")


def weights(value: str) -> None:
    """A weights specification (:func:`dv_analysis.stats.weights.check_kind`; imported here,
    not at the top: the runner imports the stages' parameters and stays light)."""
    from dv_analysis.stats.weights import check_kind

    try:
        check_kind(value)
    except ValueError as e:
        raise ParameterError(str(e)) from None
