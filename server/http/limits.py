"""Request limits, checked before any route reads a body. Each one is a 413 OperationOutcome
(issue code `too-costly`) naming the limit and its config key, and nothing is stored.

- `MAX_CONTENT_LENGTH` (bytes): checked here from Content-Length; a chunked body without one is
  cut by Werkzeug at the limit, and one byte more makes it a 413 here too.
- `MAX_JSON_DEPTH`: nesting of arrays/objects in a JSON body. Python's json parser and every
  recursive walk after it would otherwise hit RecursionError (a 500) on `[[[[...]]]]`.
- `MAX_BUNDLE_ENTRIES`: entries in one Bundle (PAS request/inquiry, CDS draftOrders, each
  prefetched Bundle) — `check_bundle_entries`, called by the parsers of those bodies.

Also here, as a 400: JSON escapes that are not text (`\\u0000`, an unpaired surrogate), which
no database column can hold. Outbound FHIR reads have their own limits (FHIR_FETCH_TIMEOUT,
FHIR_FETCH_MAX_BYTES): see server/hooks/fetcher.py.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import Flask, current_app, has_app_context, request
from flask.json.provider import DefaultJSONProvider

from mappings.bundles import entry_count, long_identifier
from server import config
from server import jsontext
from server.errors import BadRequest, Issue, PayloadTooLarge

# A JSON string literal (unrolled loop: linear, no backtracking blow-up on long strings).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _b in b"[{":
    _STEP[_b] = 1
for _b in b"]}":
    _STEP[_b] = -1


# A \uD800-\uDFFF escape not part of a high+low pair (an even run of backslashes before it
# is escaped backslashes, not an escape).
_LONE_SURROGATE = re.compile(
    rb'(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})'
    rb'|(?<!\\)(?:\\\\)*(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}')
_NUL = re.compile(rb'(?<!\\)(?:\\\\)*\\u0000')


def setting(key: str):
    """A limit from the app's config (or its default outside an app context)."""
    if has_app_context():
        value = current_app.config.get(key)
        if value is not None:
            return value
    return config.DEFAULTS[key]


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays/objects in a JSON text (brackets inside strings not counted).
    Runs at C speed (regex + translate + accumulate): it sits in front of the hot path."""
    if b'\\"' in raw:   # escaped quotes: strings need the full regex
        stripped = _STRING.sub(b"", raw)
    else:                 # no escaped quote: every other piece between quotes is a string
        stripped = b"".join(raw.split(b'"')[0::2])
    brackets = stripped.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def too_large(diagnostics: str, expression: str | None = None) -> PayloadTooLarge:
    return PayloadTooLarge(Issue("too-costly", diagnostics, expression=[expression] if expression else []))


def check_json_depth(raw: bytes, limit: int | None = None) -> None:
    limit = int(limit if limit is not None else setting("MAX_JSON_DEPTH"))
    # Cheap pre-check: fewer opening brackets than the limit cannot nest deeper than it.
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    depth = json_depth(raw)
    if depth > limit:
        raise too_large(f"the JSON body nests {depth} levels deep; at most {limit} are accepted "
                        f"(MAX_JSON_DEPTH)")


def check_json_text(raw: bytes) -> None:
    """400 for JSON escapes that are no text: an unpaired UTF-16 surrogate (`\\ud800`: not a
    Unicode character, it cannot be encoded into the database) or NUL (`\\u0000`: FHIR strings
    may not hold it, PostgreSQL cannot store it). Found by fuzzing: both were 500s."""
    if b"\\u" not in raw:   # the usual case: no escapes at all
        return
    if _LONE_SURROGATE.search(raw):
        raise BadRequest(Issue("invalid", "the body contains an unpaired UTF-16 surrogate escape "
                                          "(\\ud800-\\udfff), which is not a Unicode character"))
    if _NUL.search(raw):
        raise BadRequest(Issue("invalid", "the body contains a NUL character (\\u0000), "
                                          "which FHIR strings may not hold"))


def refuse_constant(name: str):
    """`parse_constant` for json.loads: the bare `NaN` / `Infinity` / `-Infinity` tokens Python's
    json accepts are not JSON (RFC 8259), and a stored one makes every later answer invalid
    JSON. Called only when such a token is met: no cost for ordinary bodies."""
    raise BadRequest(Issue("invalid", f"the body holds {name}, which is not a JSON number"))


def loads(raw, **kw):
    """json.loads refusing NaN and Infinity (400)."""
    return json.loads(raw, parse_constant=refuse_constant, **kw)


def check_bundle_entries(bundle: dict, expression: str, limit: int | None = None) -> None:
    """At most MAX_BUNDLE_ENTRIES entries in one Bundle."""
    count = entry_count(bundle)
    limit = int(limit if limit is not None else setting("MAX_BUNDLE_ENTRIES"))
    if count is not None and count > limit:
        raise too_large(f"the Bundle has {count} entries; at most {limit} are accepted "
                        f"(MAX_BUNDLE_ENTRIES)", expression)


def check_identifiers(resources, expression: str, limit: int | None = None) -> None:
    """400 for an identifier longer than MAX_IDENTIFIER_LENGTH in these resources (a Bundle's
    entries, or prefetched resources): identifiers are stored and indexed, and a very long one
    must be a clear refusal, not a database error."""
    limit = int(limit if limit is not None else setting("MAX_IDENTIFIER_LENGTH"))
    hit = long_identifier(resources, limit)
    if hit:
        i, rtype, found = hit
        raise BadRequest(Issue("too-long", f"{rtype}: an {found} is longer than {limit} characters "
                                           f"(MAX_IDENTIFIER_LENGTH)", expression=[f"{expression}[{i}]"]))


def check_request() -> None:
    """before_request: body size from Content-Length, then JSON depth and text of the body."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        raise too_large(f"the body is {request.content_length} bytes; at most {limit} are accepted "
                        f"(MAX_CONTENT_LENGTH)")
    # Every body, whatever its Content-Type: the hook routes parse JSON with force=True, and no
    # route takes uploads (the portal's forms are small and parsed from the cached bytes).
    raw = request.get_data(cache=True)   # cached: the route (or the form parser) reads it again
    if limit and request.content_length is None and len(raw) >= limit:
        # A chunked body is cut by Werkzeug at the limit without a word: one more byte means
        # it was longer (else the route would answer "not JSON" about a truncated body).
        if request.environ["wsgi.input"].read(1):
            raise too_large(f"the body is larger than {limit} bytes (MAX_CONTENT_LENGTH)")
    if raw:
        check_json_depth(raw)
        check_json_text(raw)


class _JsonProvider(DefaultJSONProvider):
    """request.get_json everywhere: NaN and Infinity are a 400, not a number to store. Parsing
    and encoding by orjson (server/jsontext.py), with the standard library's verdicts; dates
    still take Flask's own format (its `default`), as before."""

    def loads(self, s, **kwargs):
        kwargs.setdefault("parse_constant", refuse_constant)
        return jsontext.loads(s, **kwargs)

    def dumps(self, obj, **kwargs):
        if kwargs or self.sort_keys or self.compact is False:
            kwargs.setdefault("default", self.default)
            kwargs.setdefault("sort_keys", self.sort_keys)
            kwargs.setdefault("ensure_ascii", self.ensure_ascii)
            return json.dumps(obj, **kwargs)
        return jsontext.dumps(obj, default=self.default, passthrough_datetime=True).decode("utf-8")

    def response(self, *args, **kwargs):
        obj = self._prepare_response_obj(args, kwargs)
        if self.sort_keys or self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        body = jsontext.dumps(obj, default=self.default, passthrough_datetime=True) + b"\n"
        return self._app.response_class(body, mimetype=self.mimetype)


def init_app(app: Flask) -> None:
    sort_keys = app.json.sort_keys
    app.json = _JsonProvider(app)
    app.json.sort_keys = sort_keys
    app.before_request(check_request)
