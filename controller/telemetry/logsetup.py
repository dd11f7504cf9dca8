"""The process log: text or JSON lines on standard error at `log.level`, every record carrying
its request and deployment context (logcontext.py). Access log lines come from api/access.py
with their fields as record attributes."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from controller.config import LogSettings
from controller.telemetry.logcontext import ContextFilter

# Attributes of every LogRecord; anything else on a record was given by the caller (extra=)
# or by ContextFilter, and is printed as a field.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
CONTEXT_FIELDS = ("request_id", "deployment_id", "app")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's context and extra fields, context first."""
    attributes = vars(record)
    extra = attributes.keys() - _STANDARD
    if not extra:
        return {}
    fields = {name: attributes[name] for name in CONTEXT_FIELDS if name in extra}
    for name in sorted(extra - fields.keys()):
        fields[name] = attributes[name]
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and extra fields, and
    the traceback (as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual line, then `key=value` for each context and extra field."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = extra_fields(record)
        if not fields:
            return line
        return line + " " + " ".join(f"{name}={value}" for name, value in fields.items())


class StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is when a record is emitted, not the one at set-up: a
    test runner or an in-process CLI runner swaps (and closes) it, and a handler bound to the
    closed one turns every later record, from any thread, into a printed "Logging error"."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one that writes `settings.format` lines."""
    handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # Neither format prints the caller's file and line, the thread or the process: the logging
    # HOWTO's "Optimization" switches spare every record (an access line per webhook delivery
    # among them) the work of finding them.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # APScheduler logs every run of every job at INFO (the WAL checkpoint runs every 2 s), and
    # httpx every request (the edge's admin API, the outbox); their warnings still show.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
