"""Sandbox mode: an oncopath instance for the engineers who test their PAS and CRD clients against it.

Switched on by `oncopath serve --sandbox` or `ONCOPATH_SANDBOX=1` (config `SANDBOX`), never by
default. At start-up (`prepare_database`, before gunicorn forks, and again in each app):

- the database is checked: an empty one is marked as a sandbox (an audit row
  `sandbox.database`, written while it holds nothing else); one that holds anything
  (cases, clients, reviewers, Subscriptions, audit rows) without that mark is refused —
  `SandboxRefused`, and `oncopath serve` exits 2 naming what it found — so sandbox mode, with
  its published demo key, can never be switched on over real data;
- the demo FHIR client (`demo.CLIENT_ID`, its private key `demo-client-key.pem` published here
  and at GET /sandbox/demo-client-key.pem) and the demo physician reviewer (`demo.REVIEWER`)
  are created, once.

Then the app serves, besides everything it always serves (server/http/sandbox.py):
`GET /sandbox` the scenario catalogue (HTML, or JSON with `?format=json` / `Accept:
application/json`), computed by running the real doors over the fixtures on a scratch database
(server/sandbox/catalogue.py), `GET /sandbox/fixtures/<door>/<name>.json` the request fixtures,
`POST /sandbox/cases/<orderId>/decide` the tester-only decision as the demo reviewer, and a
FHIR read/search surface over the demo patients at `/sandbox/fhir`. None of these routes exists
outside sandbox mode (404).
"""
from __future__ import annotations

from server.sandbox.demo import SandboxRefused, prepare_database

__all__ = ["SandboxRefused", "prepare_database"]
