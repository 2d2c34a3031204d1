"""The suite's own errors: one base, :class:`DVAnalysisError`, for everything a user can fix.

``dv-analysis`` prints such an error as one line, with what to do (``fix``); any other
exception is a bug and keeps its traceback. Each subclass also derives from the built-in
exception it refines (``InputError`` is a ``ValueError``, ``MissingInputError`` a
``FileNotFoundError``), so code that catches the built-in one keeps working.
"""

from __future__ import annotations

__all__ = [
    "DVAnalysisError",
    "InputError",
    "MissingInputError",
    "ParameterError",
    "RunError",
]


class DVAnalysisError(Exception):
    """Base of the errors a user can fix; ``fix`` says how (one short sentence)."""

    fix: str = ""

    def __init__(self, message: str = "", fix: str | None = None):
        super().__init__(message)
        if fix is not None:
            self.fix = fix

    def one_line(self) -> str:
        """The message and the fix, as the command line prints them."""
        text = " ".join(str(self).split())
        return f"{text} (fix: {self.fix})" if self.fix else text


class InputError(DVAnalysisError, ValueError):
    """An input file is wrong: the message names the file, and the row and column where
    there is one."""

    fix = "correct the file, row and column named, then run again"


class MissingInputError(DVAnalysisError, FileNotFoundError):
    """An input file or folder is not where the settings say."""

    fix = "check the folder options (--raw-dir, --clean-dir, --public-dir) or run the step named"


class ParameterError(DVAnalysisError, ValueError):
    """A setting (a ``-p NAME VALUE``, a ``*Params`` field, a command option) is not allowed."""

    fix = "change it to an allowed value (the message says which)"


class RunError(DVAnalysisError, RuntimeError):
    """A run could not finish (a notebook failed, the audit failed, the period is locked)."""
