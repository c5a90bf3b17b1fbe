"""Structured (JSON) logs, one object a line, for `oncopath serve` with ONCOPATH_LOG_FORMAT=json.

- Access log (stdout): time, remote address, method, path (never the query string: it can carry
  member ids), route (the URL rule, from server/http/metrics.py), status, bytes, duration_ms.
- gunicorn's own log and the application's records (stderr): time, level, logger, message;
  an exception is logged as its type only (its text may quote the request).

What the application logs is unchanged (Order IDs, statuses, codes; never member or clinical
detail): only the shape differs. SQLAlchemy's loggers stay at WARNING (at INFO they log every
statement with its parameters). The default (ONCOPATH_LOG_FORMAT unset or `text`) is gunicorn's
text format of server/cli.py.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from gunicorn.glogging import Logger

LOG_FORMAT_ENV = "ONCOPATH_LOG_FORMAT"
ROUTE_ENVIRON_KEY = "oncopath.route"      # set by server/http/metrics.py


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": _now(), "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[0] is not None:
            out["exception"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False)


def access_record(*, remote: str | None, method: str | None, path: str | None, route: str | None,
                  status: int, sent: int | None, duration_ms: float) -> str:
    return json.dumps({"time": _now(), "type": "access", "remote": remote, "method": method, "path": path,
                       "route": route, "status": status, "bytes": sent, "duration_ms": duration_ms},
                      ensure_ascii=False)


class JsonGunicornLogger(Logger):
    """gunicorn's logger (`logger_class`), writing JSON lines; also routes the application's
    INFO records (root logger) to stderr as JSON."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))
        configure_root(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        try:
            self.access_log.info(access_record(
                remote=environ.get("REMOTE_ADDR"), method=environ.get("REQUEST_METHOD"),
                path=environ.get("PATH_INFO"), route=environ.get(ROUTE_ENVIRON_KEY),
                status=int(status), sent=getattr(resp, "sent", None),
                duration_ms=round(request_time.total_seconds() * 1000, 2)))
        except Exception:
            self.error("access log record failed")


def configure_root(formatter: logging.Formatter | None = None, stream=None) -> None:
    """The application's records at INFO, as JSON, on stderr (once)."""
    root = logging.getLogger()
    if not any(getattr(h, "_oncopath_json", False) for h in root.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(formatter or JsonFormatter())
        handler._oncopath_json = True
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
