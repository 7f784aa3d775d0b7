"""The package's own error types.

Every mistake a user can make (a bad config key, a missing file, a label outside the
scheme) is raised as an :class:`XlingualError` subclass with a message that names the
key, file or line, so the CLI can print one line and exit non-zero instead of showing
a traceback from deep inside torch or datasets.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_LINE_BREAKS = str.maketrans({c: repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


class XlingualError(Exception):
    """Base class for every error caused by user input rather than by a bug."""

    def __str__(self) -> str:
        # Always one line, even when the message quotes user text with line breaks: the CLI prints one 'error:' line.
        return super().__str__().translate(_LINE_BREAKS)


class ConfigError(XlingualError, ValueError):
    """A recipe or override is invalid: unknown key, wrong type, value out of range."""


class DataError(XlingualError, ValueError):
    """A data file or dataset is missing, malformed, or inconsistent with the recipe."""


class CheckpointError(XlingualError, ValueError):
    """A model or checkpoint folder is missing files or does not match the recipe."""


class RunFolderError(XlingualError):
    """The output folder already holds a finished run or cannot be used."""


class NoSpaceError(XlingualError):
    """The disk (or a quota, or the file-size limit) is full: the write that failed is named, the previous
    files stay as they were."""


class TrainingDivergedError(XlingualError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
