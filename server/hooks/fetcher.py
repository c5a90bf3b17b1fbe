"""Reads what the EHR did not prefetch, from `fhirServer`, with the hook's access token.

Every failure is a value (`FetchResult.error`), not an exception: the caller decides whether
the data was required (412) or optional (carry on, noting it).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

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
                 page_cap: int = DEFAULT_PAGE_CAP, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/") if base_url else None
        self.access_token = access_token
        self.timeout = timeout
        self.page_cap = page_cap
        self.session = session or requests.Session()

    def _headers(self) -> dict:
        headers = {"Accept": "application/fhir+json"}
        if self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        return headers

    def _same_server(self, url: str) -> bool:
        """Only follow links back to fhirServer: the bearer token must not leak to another host."""
        if not self.base_url:
            return False
        a, b = urlsplit(self.base_url), urlsplit(url)
        return (a.scheme, a.netloc) == (b.scheme, b.netloc)

    def _get(self, url: str) -> tuple[dict | None, str | None, int | None]:
        try:
            resp = self.session.get(url, headers=self._headers(), timeout=self.timeout)
        except requests.Timeout:
            return None, "timeout", None
        except requests.RequestException as exc:
            return None, f"connection error ({type(exc).__name__})", None
        if resp.status_code != 200:
            return None, f"HTTP {resp.status_code}", resp.status_code
        try:
            body = resp.json()
        except ValueError:
            return None, "response is not JSON", resp.status_code
        if not isinstance(body, dict) or "resourceType" not in body:
            return None, "response is not a FHIR resource", resp.status_code
        if body["resourceType"] == "OperationOutcome":
            return None, "server answered with an OperationOutcome", resp.status_code
        return body, None, 200

    def fetch(self, query: str) -> FetchResult:
        """`query` is a relative FHIR read or search (`Patient/1`, `Coverage?patient=1`)."""
        if not self.base_url:
            return FetchResult([], error="no fhirServer in the request")
        body, error, status = self._get(f"{self.base_url}/{query.lstrip('/')}")
        if error:
            if status == 404 and "?" not in query:   # a read of something that is not there
                return FetchResult([], not_found=True)
            return FetchResult([], error=error)
        if body["resourceType"] != "Bundle":
            return FetchResult([body])
        return self.complete(body)

    def complete(self, bundle: dict) -> FetchResult:
        """Entries of a searchset Bundle, following `next` links up to the page cap."""
        resources = entries_of(bundle)
        pages = 1
        next_url = next_link(bundle)
        while next_url:
            if pages >= self.page_cap:
                return FetchResult(resources, truncated=True)
            if not self._same_server(next_url):
                return FetchResult(resources, error="next link points outside fhirServer")
            body, error, _ = self._get(next_url)
            if error:
                return FetchResult(resources, error=f"page {pages + 1}: {error}")
            if body.get("resourceType") != "Bundle":
                return FetchResult(resources, error=f"page {pages + 1} is not a Bundle")
            resources.extend(entries_of(body))
            pages += 1
            next_url = next_link(body)
        return FetchResult(resources, not_found=not resources)


def entries_of(bundle: dict) -> list[dict]:
    """A Bundle's resources, without OperationOutcome entries (search warnings)."""
    out = []
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") not in (None, "OperationOutcome"):
            out.append(resource)
    return out


def next_link(bundle: dict) -> str | None:
    links = bundle.get("link")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None
