"""Reads what the EHR did not prefetch, from `fhirServer`, with the hook's access token.

Every failure is a value (`FetchResult.error`), not an exception: the caller decides whether
the data was required (412) or optional (carry on, noting it).

Outbound rules (server/security/outbound.py): `fhirServer` must be one of the base URLs the
verified CDS client's issuer may name (`fhir_servers` in CDS_TRUSTED_ISSUERS; with JWT
verification off, any URL); it must resolve to public addresses (or OUTBOUND_ALLOWED_NETWORKS);
redirects only within its origin; FHIR_FETCH_TIMEOUT bounds each read as a whole. The access
token goes only to fhirServer's origin and is never logged.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from mappings.bundles import entries_of, is_a, next_link, resource_type
from server import metrics
from server.errors import BadRequest, PayloadTooLarge
from server.http import limits
from server.security import outbound

# flask.g key: the fhirServer base URLs the verified CDS client may name (None: no JWT checked).
ALLOWED_SERVERS_KEY = "oncopath_cds_fhir_servers"
NOT_PERMITTED = "fhirServer is not a FHIR server this CDS client is registered for"


def normalize_base(url: str) -> str:
    """scheme://host[:port]/path, lower-case scheme and host, default port and trailing / dropped."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return url
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, {"http": 80, "https": 443}.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}" + (f"?{parts.query}" if parts.query else "")


def _request_defaults() -> tuple[outbound.OutboundPolicy, list[str] | None]:
    from flask import current_app, g, has_app_context, has_request_context
    if not has_app_context():
        return outbound.OutboundPolicy(), None
    policy = outbound.OutboundPolicy(current_app.config.get("OUTBOUND_ALLOWED_NETWORKS") or ())
    allowed = g.get(ALLOWED_SERVERS_KEY) if has_request_context() else None
    return policy, allowed

DEFAULT_PAGE_CAP = 5


@dataclass
class FetchResult:
    resources: list[dict]          # the resource read, or the search matches (all pages)
    error: str | None = None       # why it could not be read: "timeout", "HTTP 401", ...
    not_found: bool = False        # 404 on a read, or an empty search
    truncated: bool = False        # more pages than the cap

    @property
    def ok(self) -> bool:
        return self.error is None


class FhirFetcher:
    def __init__(self, base_url: str | None, access_token: str | None, *, timeout: float,
                 page_cap: int = DEFAULT_PAGE_CAP, session: requests.Session | None = None,
                 max_bytes: int | None = None, max_entries: int | None = None,
                 policy: outbound.OutboundPolicy | None = None, allowed_servers: list[str] | None = None):
        default_policy, default_allowed = _request_defaults()
        self.policy = policy or default_policy
        allowed = allowed_servers if allowed_servers is not None else default_allowed
        self.refused: str | None = None
        if base_url and allowed is not None and normalize_base(base_url) not in {normalize_base(a) for a in allowed}:
            self.refused = NOT_PERMITTED
        elif base_url:
            self.refused = self.policy.url_problem(base_url)
            if self.refused is None and urlsplit(base_url).query:
                self.refused = "fhirServer must be a base URL without a query"
        self.base_url = normalize_base(base_url) if base_url else None
        self.access_token = access_token if self.refused is None else None
        self.timeout = timeout
        self.page_cap = page_cap
        self.max_bytes = int(max_bytes if max_bytes is not None else limits.setting("FHIR_FETCH_MAX_BYTES"))
        # Resources kept from one search (all pages): past it the rest is not read (truncated).
        self.max_entries = int(max_entries if max_entries is not None else limits.setting("MAX_BUNDLE_ENTRIES"))
        self.session = session or outbound.session(self.policy)

    def _headers(self) -> dict:
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _same_server(self, url: str) -> bool:
        """Only follow links back to fhirServer: the bearer token must not leak to another host."""
        if not self.base_url or not isinstance(url, str):
            return False
        try:
            return outbound.origin(self.base_url) == outbound.origin(url)
        except ValueError:
            return False

    def _get(self, url: str) -> tuple[dict | None, str | None, int | None]:
        """One read, timed (server/metrics.py: duration by outcome, failures by class)."""
        t0 = time.perf_counter()
        body, error, status = self._read(url)
        metrics.record_fetch(time.perf_counter() - t0, error)
        return body, error, status

    def _read(self, url: str) -> tuple[dict | None, str | None, int | None]:
        """One read, bounded: FHIR_FETCH_TIMEOUT for the whole exchange (connect, same-origin
        redirects, headers and body: not per socket read, so a server dripping bytes cannot hold
        the hook) and FHIR_FETCH_MAX_BYTES of body."""
        if self.refused:
            return None, self.refused, None
        if not self._same_server(url):
            return None, "a link outside fhirServer is not followed", None

        def read(resp, deadline):
            if resp.status_code != 200:
                return None, f"HTTP {resp.status_code}", resp.status_code
            raw, error = self._read_body(resp, deadline.at)
            return raw, error, resp.status_code

        try:
            raw, error, status = outbound.request(self.session, "GET", url, timeout=self.timeout,
                                                  policy=self.policy, headers=self._headers(), read=read)
        except outbound.OutboundError as exc:
            return None, exc.reason, None
        if error or raw is None:
            return None, error, status
        try:
            limits.check_json_depth(raw)
            limits.check_json_text(raw)
            body = json.loads(raw)
        except PayloadTooLarge:
            return None, "response nests deeper than MAX_JSON_DEPTH", status
        except BadRequest:
            return None, "response holds a NUL or an unpaired surrogate escape", status
        except (ValueError, RecursionError):
            return None, "response is not JSON", status
        if resource_type(body) is None:
            return None, "response is not a FHIR resource", status
        if is_a(body, "OperationOutcome"):
            return None, "server answered with an OperationOutcome", status
        return body, None, 200

    def _read_body(self, resp: requests.Response, deadline: float) -> tuple[bytes, str | None]:
        too_big = f"response larger than {self.max_bytes} bytes (FHIR_FETCH_MAX_BYTES)"
        declared = resp.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return b"", too_big
        chunks, size = [], 0
        read1 = getattr(resp.raw, "read1", None)
        try:
            while True:
                if time.monotonic() > deadline:
                    return b"", "timeout"
                # read1: whatever has arrived (up to 64 KiB), without waiting to fill the chunk.
                chunk = read1(65536, decode_content=True) if read1 else resp.raw.read(65536, decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    return b"", too_big
                chunks.append(chunk)
        except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
            if time.monotonic() >= deadline or "timed out" in str(exc).lower() or isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)):
                return b"", "timeout"
            return b"", f"connection error ({type(exc).__name__})"
        if time.monotonic() >= deadline:   # the deadline shut the socket: what came is cut
            return b"", "timeout"
        return b"".join(chunks), None

    def fetch(self, query: str) -> FetchResult:
        """`query` is a relative FHIR read or search (`Patient/1`, `Coverage?patient=1`)."""
        if not self.base_url:
            return FetchResult([], error="no fhirServer in the request")
        if self.refused:
            return FetchResult([], error=self.refused)
        body, error, status = self._get(f"{self.base_url}/{query.lstrip('/')}")
        if error:
            if status == 404 and "?" not in query:   # a read of something that is not there
                return FetchResult([], not_found=True)
            return FetchResult([], error=error)
        if not is_a(body, "Bundle"):
            return FetchResult([body])
        return self.complete(body)

    def complete(self, bundle: dict) -> FetchResult:
        """Entries of a searchset Bundle, following `next` links up to the page cap."""
        resources = entries_of(bundle)
        pages = 1
        next_url = next_link(bundle)
        while next_url or len(resources) > self.max_entries:
            if pages >= self.page_cap or len(resources) > self.max_entries:
                return FetchResult(resources[:self.max_entries], truncated=True)
            if not self._same_server(next_url):
                return FetchResult(resources, error="next link points outside fhirServer")
            body, error, _ = self._get(next_url)
            if error:
                return FetchResult(resources, error=f"page {pages + 1}: {error}")
            if not is_a(body, "Bundle"):
                return FetchResult(resources, error=f"page {pages + 1} is not a Bundle")
            resources.extend(entries_of(body))
            pages += 1
            next_url = next_link(body)
        return FetchResult(resources, not_found=not resources)
