"""Library messages go through ``logging`` (logger ``xlingual`` and its children), and still reach the user.

The ``xlingual`` logger has its own handler that writes ``warning: ...`` lines (and plain info lines,
such as where a resumed run continues) to whatever ``sys.stderr`` is at the time, like the command
line always did. As in transformers, it does not propagate to the root logger, so a notebook that
configured logging does not see every line twice; turn it on with
``logging.getLogger("xlingual").propagate = True`` (and remove the handler with :func:`set_handler`)
to route xlingual's messages through your own handlers, or quiet it with :func:`set_verbosity`.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "xlingual"


class _StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr`` (which notebooks and test runners replace)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


_HANDLER = _StderrHandler()
_HANDLER.setFormatter(_Formatter())


def install() -> None:
    """Attach the stderr handler to the ``xlingual`` logger once (at import of the package)."""
    logger = logging.getLogger(LOGGER_NAME)
    if _HANDLER not in logger.handlers:
        logger.addHandler(_HANDLER)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def set_verbosity(level: int | str) -> None:
    """The least severe messages xlingual prints, e.g. ``logging.WARNING`` to hide info lines."""
    logging.getLogger(LOGGER_NAME).setLevel(level)


def set_handler(enabled: bool) -> None:
    """Keep (True) or remove (False) xlingual's own stderr handler."""
    logger = logging.getLogger(LOGGER_NAME)
    if enabled:
        install()
    elif _HANDLER in logger.handlers:
        logger.removeHandler(_HANDLER)
