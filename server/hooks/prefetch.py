"""Turn the call's prefetch (and fhirServer) into the patient's resources.

CDS Hooks 2.0: a key that is omitted was not satisfied (we fetch it); `null` means the EHR has
no data; an OperationOutcome means the EHR's own fetch failed (treated as omitted). Required
data that cannot be had is a 412; optional data that cannot be had is noted and we carry on.
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from server.errors import Issue, PreconditionFailed
from mappings.bundles import entries_of, is_a, next_link, resource_key
from server.hooks.fetcher import FetchResult, FhirFetcher
from server.hooks.registry import PREFETCH_ONLY, TOKEN, HookService
from server.hooks.request import HookRequest

log = logging.getLogger(__name__)


@dataclass
class PatientData:
    by_key: dict[str, list[dict]] = field(default_factory=dict)   # prefetch key -> resources
    missing: dict[str, str] = field(default_factory=dict)          # key -> why it could not be read
    no_data: set[str] = field(default_factory=set)                 # keys the EHR has nothing for

    @property
    def resources(self) -> list[dict]:
        seen: set[tuple[str, str]] = set()
        out = []
        for resources in self.by_key.values():
            for r in resources:
                key = resource_key(r)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                out.append(r)
        return out


def render_template(template: str, req: HookRequest) -> str | None:
    """Fill `{{context.X}}` and user tokens; None when a token has no value in this call."""
    values = {f"context.{k}": v for k, v in req.context.items() if isinstance(v, (str, int, float))}
    if req.user_id and "/" in req.user_id:
        rtype, rid = req.user_id.split("/", 1)
        user_token = {"Practitioner": "userPractitionerId", "PractitionerRole": "userPractitionerRoleId",
                      "Patient": "userPatientId", "RelatedPerson": "userRelatedPersonId"}.get(rtype)
        if user_token:
            values[user_token] = rid
    unresolved = False

    def fill(m):
        nonlocal unresolved
        value = values.get(m.group(1).strip())
        if value is None:
            unresolved = True
            return ""
        # Encoded: an id must not add query parameters or path segments to the request we make.
        return quote(str(value), safe="")

    out = TOKEN.sub(fill, template)
    return None if unresolved else out


def gather(service: HookService, req: HookRequest, fetcher: FhirFetcher, *,
           required: frozenset[str], wanted: frozenset[str] | None = None) -> PatientData:
    """Resolve every prefetch key we want; raise PreconditionFailed if a required one is missing."""
    data = PatientData()
    to_fetch: dict[str, str] = {}
    for key, template in service.prefetch.items():
        if wanted is not None and key not in wanted and key not in required:
            continue
        if key in req.prefetch:
            value = req.prefetch[key]
            if value is None:
                data.no_data.add(key)
                data.by_key[key] = []
                continue
            if not is_a(value, "OperationOutcome"):
                data.by_key[key] = _prefetched(value, key, fetcher, data)
                continue
        if key in PREFETCH_ONLY:
            continue            # read when prefetched, never fetched (registry.PREFETCH_ONLY)
        query = render_template(template, req)
        if query is None:
            if key in required:
                data.missing[key] = "the query cannot be built from this call's context"
            continue
        to_fetch[key] = query

    for key, result in _fetch_all(fetcher, to_fetch).items():
        if result.not_found and result.ok:
            data.no_data.add(key)
            data.by_key[key] = []
        elif result.ok:
            data.by_key[key] = result.resources
            if result.truncated:
                data.missing[key] = f"more than {fetcher.page_cap} pages; the rest was not read"
        else:
            data.missing[key] = result.error
            if result.resources:
                data.by_key[key] = result.resources
            log.info("prefetch %s could not be read: %s", key, result.error)

    problems = [k for k in sorted(required) if not data.by_key.get(k)]
    if problems:
        issues = []
        for key in problems:
            why = data.missing.get(key) or ("the EHR has no such resource" if key in data.no_data
                                            else "not prefetched")
            issues.append(Issue("incomplete", f"required data '{key}' ({service.prefetch[key]}) could not "
                                              f"be obtained: {why}", expression=[f"prefetch.{key}"]))
        raise PreconditionFailed(issues)
    return data


def _prefetched(value: dict, key: str, fetcher: FhirFetcher, data: PatientData) -> list[dict]:
    if not is_a(value, "Bundle"):
        return [value]
    if next_link(value) is None:
        return entries_of(value)
    result: FetchResult = fetcher.complete(value)   # a paginated prefetch: read the rest
    if not result.ok:
        data.missing[key] = f"only the first page was prefetched and the rest could not be read ({result.error})"
    return result.resources


def _fetch_all(fetcher: FhirFetcher, queries: dict[str, str]) -> dict[str, FetchResult]:
    if not queries:
        return {}
    if len(queries) == 1 or fetcher.base_url is None:
        return {k: fetcher.fetch(q) for k, q in queries.items()}
    # Independent reads: in parallel, so the call costs one timeout at worst, not one per key.
    with ThreadPoolExecutor(max_workers=min(4, len(queries))) as pool:
        futures = {k: pool.submit(fetcher.fetch, q) for k, q in queries.items()}
        return {k: f.result() for k, f in futures.items()}
