"""DVC's log output, captured: turned into progress events and kept off the terminal (the library
stays silent), and the output of stage commands sent to stderr."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Callable, Iterator

#: Called with (event, stage name, detail) while a pipeline runs:
#: events are "start", "skip", "cached", "log".
ProgressCallback = Callable[[str, str, str], None]


def _stage_name(addressing: object) -> str:
    """'dvc.yaml:train' -> 'train', 'path/to/dvc.yaml:train' -> 'path/to:train' (DVC addresses
    stages relative to the cwd, the repo root; a model's folder is kept to tell its stages apart)."""
    text = str(addressing)
    if ".yaml:" not in text:
        return text
    file, name = text.rsplit(":", 1)
    folder = os.path.dirname(file)
    return f"{folder}:{name}" if folder else name


class LogCapture(logging.Handler):
    """Turns DVC's log records into progress events (and keeps DVC quiet)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        super().__init__(logging.DEBUG)
        self.callback = callback
        self.messages: list[str] = []
        self.errors: list[BaseException] = []  # exceptions DVC logged and swallowed (failed transfers)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])
        if record.levelno < logging.INFO:
            return
        msg = str(record.msg)
        args = record.args if isinstance(record.args, tuple) else ()
        text = record.getMessage()
        self.messages.append(text)
        if self.callback is None:
            return
        name = _stage_name(args[0]) if args else ""
        if msg.startswith("Running stage") and args:
            self.callback("start", name, "")
        elif "didn't change, skipping" in msg and args:
            if not name.endswith(".dvc"):  # data sources tracked by .dvc files are not stages
                self.callback("skip", name, "")
        elif "is cached - skipping run" in msg and args:
            self.callback("cached", name, "")
        elif record.levelno >= logging.WARNING:
            self.callback("log", "", text)


@contextlib.contextmanager
def stage_output_to_stderr() -> Iterator[None]:
    """Send what stage commands print to stderr (fd level: they are subprocesses), so stdout carries
    only what gitmlops itself prints and `--json` output parses."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


#: DVC logs through these (dvc_data and dvc_objects report failed transfers, then carry on).
DVC_LOGGERS = ("dvc", "dvc_data", "dvc_objects")


@contextlib.contextmanager
def transfer_bars(shown: bool) -> Iterator[None]:
    """DVC draws transfer progress bars (tqdm) on ``sys.stderr`` when it is a terminal. Unless
    ``shown`` (the CLI asks on a terminal), they go to a buffer that is no terminal, so DVC draws
    nothing and the library stays silent; DVC's messages travel through logging, not stderr."""
    if shown:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def quiet_dvc(callback: ProgressCallback | None = None) -> Iterator[LogCapture]:
    """Capture DVC's logging for the duration of the block."""
    handler = LogCapture(callback)
    saved = []
    for name in DVC_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate, logger.level))
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.INFO if name == "dvc" else logging.WARNING)
    try:
        yield handler
    finally:
        for logger, handlers, propagate, level in saved:
            logger.handlers, logger.propagate = handlers, propagate
            logger.setLevel(level)
