"""`GET /metrics` (Prometheus text) and the per-request duration histogram.

Protection: on the service's own port, /metrics answers only a bearer token equal to
METRICS_TOKEN (ONCOPATH_METRICS_TOKEN); with no token configured it is a 404, as if absent.
`oncopath serve --metrics-port N` serves the same text on a separate address instead (loopback
by default, `--metrics-host`), from the gunicorn master, for a scraper on the host or a sidecar.

Each request is timed from the first before_request (ahead of the body limits, so a 413 is
timed too) to after_request, labelled by its URL rule (`/fhir/ClaimResponse/<order_id>`, never
the path itself), method and status; a path no rule matches is `<unmatched>`. /metrics itself
is not counted. The rule is also left in the WSGI environ for the JSON access log.
"""
from __future__ import annotations

import hmac
import time

from flask import Flask, Response, abort, current_app, g, request

from server import metrics

ROUTE_ENVIRON_KEY = "oncopath.route"
_SELF = "/metrics"


def init_app(app: Flask) -> None:
    app.add_url_rule(_SELF, "metrics", scrape, methods=["GET"])
    # First of all before_request functions: limits may answer (413) before the others run.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_observe)


def _start() -> None:
    g.oncopath_t0 = time.perf_counter()


def _observe(response: Response) -> Response:
    t0 = g.pop("oncopath_t0", None)
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    request.environ[ROUTE_ENVIRON_KEY] = rule
    if t0 is not None and rule != _SELF:
        metrics.REQUESTS.labels(rule, request.method, str(response.status_code)).observe(time.perf_counter() - t0)
    return response


def scrape() -> Response:
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        abort(404)
    header = request.headers.get("Authorization", "")
    sent = header[7:] if header[:7].lower() == "bearer " else ""
    if not hmac.compare_digest(sent.encode(), str(expected).encode()):
        return Response("metrics need the bearer token of ONCOPATH_METRICS_TOKEN\n", status=401,
                        mimetype="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    store = current_app.extensions.get("oncopath.store")
    clock = current_app.extensions.get("oncopath.clock")     # tests' clock; otherwise the wall clock
    gauges = None
    if store is not None:
        gauges = metrics.StoreGauges(lambda: store.engine, now=clock) if clock else metrics.StoreGauges(lambda: store.engine)
    return Response(metrics.exposition(gauges), headers={"Content-Type": metrics.CONTENT_TYPE,
                                                         "Cache-Control": "no-store"})
