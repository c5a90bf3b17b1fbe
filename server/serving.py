"""What a serving process does once, after `create_app` and before its first request.

- Compile the structure validators of the resources the mappings read (≈ 0.5 s of CPU):
  otherwise each gunicorn worker pays it inside its first requests.
- `gc.freeze()`: the knowledge base, the compiled validators and the imported models are
  ~150,000 long-lived objects; frozen, the collector stops re-scanning them (a full
  collection over them is a multi-millisecond pause on some unlucky request).
- gunicorn's own error answers (a request line or header too large ⇒ 400/431, a worker
  crash ⇒ 500) become OperationOutcomes (application/fhir+json) instead of HTML pages.
Tests do not call this: they build hundreds of apps in one process.
"""
from __future__ import annotations

import gc
import json

from flask import Flask

from mappings import structure
from mappings.fhir import CONSUMED_RESOURCE_TYPES


_ISSUE_CODES = {400: "invalid", 403: "forbidden", 404: "not-found", 413: "too-costly", 431: "too-costly"}


def operation_outcome_error(sock, status_int, reason, mesg):
    """gunicorn.util.write_error, answering an OperationOutcome. The message is gunicorn's own
    (the limit broken), never the request's content."""
    code = _ISSUE_CODES.get(int(status_int), "exception")
    text = reason if int(status_int) >= 500 else f"{reason}: {str(mesg)[:200]}"
    body = json.dumps({"resourceType": "OperationOutcome",
                       "issue": [{"severity": "error", "code": code, "diagnostics": text}]}).encode("utf-8")
    head = (f"HTTP/1.1 {int(status_int)} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/fhir+json\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin1")
    from gunicorn import util
    util.write_nonblock(sock, head + body)


def install_error_pages() -> None:
    from gunicorn import util
    util.write_error = operation_outcome_error


def prepare(app: Flask) -> Flask:
    install_error_pages()
    for resource_type in CONSUMED_RESOURCE_TYPES:
        structure.validator(resource_type)
    gc.freeze()
    return app
