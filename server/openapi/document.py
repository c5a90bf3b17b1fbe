"""OpenAPI 3.0 description of oncopath's HTTP surface.

Written as data, route by route, in the order of the surfaces (CDS Hooks, FHIR/PAS, review,
portal, service). Request bodies name the keys a route requires; every error answer is a FHIR
OperationOutcome (server/http/errors.py), except the portal's HTML pages, which are for people.
Every path also answers OPTIONS with 204 (server/http/cors.py); only the CDS Hooks, FHIR and
token APIs add CORS headers to it.
"""
from __future__ import annotations

import copy

FHIR = "application/fhir+json"
JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"

_ERROR_TEXT = {
    400: "malformed request (not JSON, wrong structure, bad parameter, missing CSRF token)",
    401: "no or invalid credentials (CDS Hooks JWT, reviewer bearer token)",
    403: "the reviewer's role may not take this action",
    404: "not found (also: a case that is not the asking provider's)",
    409: "conflict (invalid review transition, concurrent change, identifier of another submitter)",
    412: "CDS Hooks: required data could not be prefetched or fetched",
    413: "over a request limit (MAX_CONTENT_LENGTH, MAX_JSON_DEPTH, MAX_BUNDLE_ENTRIES)",
    415: "Content-Type not accepted",
    422: "parsed, but breaks a rule of the implementation guide or of the program",
    503: "a required component (knowledge base) is not loaded",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _outcome(status: int) -> dict:
    return {"description": _ERROR_TEXT.get(status, "error"), "content": {FHIR: {"schema": _ref("OperationOutcome")}}}


def _errors(*statuses: int) -> dict:
    out = {str(s): _outcome(s) for s in statuses}
    out["4XX"] = {"description": "any other client error", "content": {FHIR: {"schema": _ref("OperationOutcome")}}}
    return out


def _ok(schema: dict, media: str = JSON, description: str = "OK", status: int = 200) -> dict:
    return {str(status): {"description": description, "content": {media: {"schema": schema}}}}


def _html(description: str) -> dict:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def _json_body(schema: dict, *media: str) -> dict:
    return {"required": True, "content": {m: {"schema": schema} for m in (media or (JSON,))}}


def _path_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def _query(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


_REDIRECT = {"302": {"description": "redirect (to the sign-in page when not signed in, or after an action)"}}
_BEARER = [{"reviewerBearer": []}]
_ORDER_ID = _path_param("order_id", "Order ID (ONC-…)")
_NPI = _query("npi", "NPI of the provider who submitted the case (not needed by a signed-in reviewer)")
_PERIOD = [_query("from", "first day (YYYY-MM-DD), default 1 January", format="date"),
           _query("to", "last day (YYYY-MM-DD), default today", format="date")]

SCHEMAS: dict = {
    "OperationOutcome": {
        "type": "object", "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
            "issue": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["severity", "code"],
                "properties": {"severity": {"type": "string", "enum": ["fatal", "error", "warning", "information"]},
                               "code": {"type": "string"}, "diagnostics": {"type": "string"},
                               "expression": {"type": "array", "items": {"type": "string"}}}}},
        },
    },
    "Resource": {"type": "object", "required": ["resourceType"],
                 "properties": {"resourceType": {"type": "string"}, "id": {"type": "string"}}},
    "Bundle": {
        "type": "object", "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string"},
            "entry": {"type": "array", "items": {"type": "object", "properties": {
                "fullUrl": {"type": "string"}, "resource": _ref("Resource")}}},
        },
    },
    "PasRequest": {
        "description": "a PAS request (or inquiry) Bundle, Claim first — or a Parameters whose "
                       "parameter 'resource' holds it",
        "type": "object", "required": ["resourceType"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle", "Parameters"]},
            "type": {"type": "string", "enum": ["collection"]},
            "identifier": {"type": "object"}, "timestamp": {"type": "string"},
            "entry": {"type": "array", "items": {"type": "object", "required": ["fullUrl", "resource"],
                                                 "properties": {"fullUrl": {"type": "string"},
                                                                "resource": _ref("Resource")}}},
            "parameter": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Parameters": {"type": "object", "required": ["resourceType"],
                   "properties": {"resourceType": {"type": "string", "enum": ["Parameters"]},
                                  "parameter": {"type": "array", "items": {"type": "object"}}}},
    "CdsDiscovery": {"type": "object", "required": ["services"],
                     "properties": {"services": {"type": "array", "items": {
                         "type": "object", "required": ["id", "hook", "description"],
                         "properties": {"id": {"type": "string"}, "hook": {"type": "string"},
                                        "description": {"type": "string"}, "prefetch": {"type": "object"}}}}}},
    "CdsHookRequest": {
        "type": "object", "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"type": "string", "enum": ["order-sign", "order-select"]},
            "hookInstance": {"type": "string", "minLength": 1},
            "fhirServer": {"type": "string"},
            "fhirAuthorization": {"type": "object", "required": ["access_token"],
                                  "properties": {"access_token": {"type": "string"}}},
            "context": {"type": "object", "required": ["patientId", "draftOrders"],
                        "properties": {"userId": {"type": "string"}, "patientId": {"type": "string"},
                                       "encounterId": {"type": "string"},
                                       "selections": {"type": "array", "items": {"type": "string"}},
                                       "draftOrders": _ref("Bundle")}},
            "prefetch": {"type": "object", "additionalProperties": {"nullable": True, "allOf": [_ref("Resource")]}},
            "extension": {"type": "object"},
        },
    },
    "CdsHookResponse": {"type": "object", "required": ["cards"],
                        "properties": {"cards": {"type": "array", "items": {
                            "type": "object", "required": ["summary", "indicator", "source"],
                            "properties": {"summary": {"type": "string"}, "indicator": {"type": "string"},
                                           "source": {"type": "object"}}}},
                                       "systemActions": {"type": "array", "items": {"type": "object"}}}},
    "CdsFeedback": {"type": "object", "required": ["feedback"],
                    "properties": {"feedback": {"type": "array", "items": {
                        "type": "object", "required": ["card", "outcome", "outcomeTimestamp"],
                        "properties": {"card": {"type": "string"},
                                       "outcome": {"type": "string", "enum": ["accepted", "overridden"]},
                                       "outcomeTimestamp": {"type": "string"},
                                       "acceptedSuggestions": {"type": "array", "items": {"type": "object"}},
                                       "overrideReason": {"type": "object"}}}}}},
    "Subscription": {"type": "object", "required": ["resourceType", "criteria", "channel"],
                     "properties": {"resourceType": {"type": "string", "enum": ["Subscription"]},
                                    "status": {"type": "string"}, "reason": {"type": "string"},
                                    "criteria": {"type": "string"}, "channel": {"type": "object"},
                                    "extension": {"type": "array", "items": {"type": "object"}}}},
    "ReviewerLogin": {"type": "object", "required": ["username", "password"],
                      "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
    "ReviewerToken": {"type": "object", "required": ["access_token", "token_type", "expires_at", "role"],
                      "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                                     "expires_at": {"type": "string"},
                                     "role": {"type": "string", "enum": ["nurse", "physician"]}}},
    "ReviewQueue": {"type": "object", "required": ["cases"],
                    "properties": {"cases": {"type": "array", "items": {"type": "object"}}}},
    "ReviewCase": {"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "string"}}},
    "ReviewActionParams": {
        "type": "object",
        "properties": {"information": {"type": "string"}, "note": {"type": "string"},
                       "reason": {"type": "string"}, "duplicate_of": {"type": "string"},
                       "drugs": {"type": "array", "items": {"type": "string"}},
                       "quantities": {"type": "object", "additionalProperties": {"type": "number"}}}},
    "Metrics": {"type": "object"},
    "Health": {"type": "object", "required": ["status"],
               "properties": {"status": {"type": "string", "enum": ["ok"]},
                              "knowledgeBaseVersion": {"type": "string", "nullable": True}}},
    "OrderSummary": {"type": "object"},
}

REVIEW_ACTIONS = ["request-information", "peer-to-peer-offered", "peer-to-peer-held", "approve", "deny",
                  "cancel-duplicate", "reconsideration"]

PATHS: dict = {
    # -- CDS Hooks -------------------------------------------------------------------------
    "/cds-services": {"get": {
        "tags": ["CDS Hooks"], "operationId": "cdsDiscovery", "summary": "CDS Hooks discovery (no JWT)",
        "responses": _ok(_ref("CdsDiscovery")) | _errors()}},
    "/cds-services/{service_id}": {"post": {
        "tags": ["CDS Hooks"], "operationId": "cdsCall",
        "summary": "call a hook service (order-sign, order-select); Bearer JWT when CDS_JWT_REQUIRED",
        "parameters": [_path_param("service_id", "service id from discovery")],
        "requestBody": _json_body(_ref("CdsHookRequest")),
        "responses": _ok(_ref("CdsHookResponse"), description="cards and systemActions")
                     | _errors(400, 401, 404, 412, 413, 503)}},
    "/cds-services/{service_id}/feedback": {"post": {
        "tags": ["CDS Hooks"], "operationId": "cdsFeedback", "summary": "card outcomes",
        "parameters": [_path_param("service_id", "service id from discovery")],
        "requestBody": _json_body(_ref("CdsFeedback")),
        "responses": _ok({"type": "object"}, description="recorded") | _errors(400, 401, 404, 413)}},
    "/fhir/Questionnaire/{questionnaire_id}": {"get": {
        "tags": ["CDS Hooks"], "operationId": "readQuestionnaire",
        "summary": "tumor-specific worksheet linked from pended cards",
        "parameters": [_path_param("questionnaire_id", "e.g. oncopath-worksheet-breast")],
        "responses": _ok(_ref("Resource"), FHIR) | _errors(404)}},
    # -- FHIR / PAS ------------------------------------------------------------------------
    "/fhir/Claim/$submit": {"post": {
        "tags": ["PAS"], "operationId": "claimSubmit", "summary": "Da Vinci PAS Claim/$submit",
        "requestBody": _json_body(_ref("PasRequest"), FHIR, JSON),
        "responses": _ok(_ref("Bundle"), FHIR, "the PAS response Bundle, ClaimResponse first")
                     | _errors(400, 409, 413, 415, 422, 503)}},
    "/fhir/Claim/$inquire": {"post": {
        "tags": ["PAS"], "operationId": "claimInquire", "summary": "Da Vinci PAS Claim/$inquire",
        "requestBody": _json_body(_ref("PasRequest"), FHIR, JSON),
        "responses": _ok(_ref("Parameters"), FHIR, "one 'return' Bundle per matching case of this provider")
                     | _errors(400, 413, 415, 422)}},
    "/fhir/metadata": {"get": {
        "tags": ["PAS"], "operationId": "capabilityStatement", "summary": "CapabilityStatement",
        "responses": _ok(_ref("Resource"), FHIR) | _errors()}},
    "/fhir/Subscription": {"post": {
        "tags": ["PAS"], "operationId": "createSubscription",
        "summary": "pended-result Subscription (R4 backport, rest-hook)",
        "requestBody": _json_body(_ref("Subscription"), FHIR, JSON),
        "responses": _ok(_ref("Subscription"), FHIR, "stored, active", 201) | _errors(400, 413, 415, 422)}},
    "/fhir/Subscription/{sub_id}": {
        "get": {"tags": ["PAS"], "operationId": "readSubscription",
                "parameters": [_path_param("sub_id", "Subscription id")],
                "responses": _ok(_ref("Subscription"), FHIR) | _errors(404)},
        "delete": {"tags": ["PAS"], "operationId": "deleteSubscription",
                   "parameters": [_path_param("sub_id", "Subscription id")],
                   "responses": {"204": {"description": "deleted"}} | _errors(404)}},
    "/fhir/ClaimResponse/{order_id}": {"get": {
        "tags": ["PAS"], "operationId": "readClaimResponse", "summary": "a case's current ClaimResponse",
        "parameters": [_ORDER_ID, _NPI], "security": [{}, {"reviewerBearer": []}],
        "responses": _ok(_ref("Resource"), FHIR) | _errors(401, 404)}},
    # -- SMART Backend Services (B2B clients of the FHIR door) ---------------------------------
    "/.well-known/smart-configuration": {"get": {
        "tags": ["PAS"], "operationId": "smartConfiguration", "summary": "SMART Backend Services discovery",
        "responses": _ok({"type": "object"}) | _errors()}},
    "/oauth/token": {"post": {
        "tags": ["PAS"], "operationId": "oauthToken",
        "summary": "client_credentials access token for a signed private_key_jwt client assertion",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type", "client_assertion_type", "client_assertion"],
            "properties": {"grant_type": {"type": "string", "enum": ["client_credentials"]},
                           "client_assertion_type": {"type": "string"},
                           "client_assertion": {"type": "string"}, "scope": {"type": "string"}}}}}},
        "responses": {"200": {"description": "access token", "content": {JSON: {"schema": {"type": "object"}}}},
                      "400": {"description": "OAuth 2.0 error (invalid_client, invalid_scope, ...)",
                              "content": {JSON: {"schema": {"type": "object"}}}},
                      "401": {"description": "OAuth 2.0 error", "content": {JSON: {"schema": {"type": "object"}}}}}
                     | _errors(429)}},
    # -- knowledge-base catalogue (issue 14) -------------------------------------------------
    "/knowledge": {"get": {
        "tags": ["Knowledge"], "operationId": "knowledgeCatalogue",
        "summary": "pathways, regimens and medical-policy indications with their sources and tags (HTML)",
        "responses": {"200": _html("the catalogue")}}},
    "/knowledge.json": {"get": {
        "tags": ["Knowledge"], "operationId": "knowledgeCatalogueJson",
        "summary": "the catalogue and kb stats figures as JSON",
        "responses": {"200": {"description": "the catalogue", "content": {JSON: {"schema": {"type": "object"}}}}}}},
    "/knowledge/releases/{version}.json": {"get": {
        "tags": ["Knowledge"], "operationId": "knowledgeRelease",
        "summary": "the catalogue of a knowledge-base release (R18): what a decision of that version used",
        "parameters": [{"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the release's catalogue",
                              "content": {JSON: {"schema": {"type": "object"}}}}} | _errors(404)}},
    # -- worksheet form (the pended card's link) -------------------------------------------
    "/worksheets/{order_id}": {
        "get": {"tags": ["Worksheet"], "operationId": "worksheetForm",
                "summary": "the case's disease-site worksheet as an HTML form, prefilled",
                "parameters": [_ORDER_ID, _query("t", "the signed token of the card's link")],
                "responses": {"200": _html("worksheet form")} | _errors(404)},
        "post": {"tags": ["Worksheet"], "operationId": "worksheetSubmit",
                 "summary": "attach the answers as a QuestionnaireResponse and decide the case again",
                 "parameters": [_ORDER_ID],
                 "requestBody": {"required": True, "content": {FORM: {"schema": {
                     "type": "object", "required": ["t"], "properties": {"t": {"type": "string"}},
                     "additionalProperties": {"type": "string"}}}}},
                 "responses": {"200": _html("the case's new status"), "400": _html("an answer is invalid"),
                               "409": _html("the case is no longer in review")} | _errors(404, 413)}},
    # -- order summary ---------------------------------------------------------------------
    "/orders/{order_id}/summary": {"get": {
        "tags": ["Summary"], "operationId": "orderSummary", "summary": "R16 printable order summary",
        "parameters": [_ORDER_ID, _NPI, _query("format", "json for the summary as JSON; HTML otherwise")],
        "security": [{}, {"reviewerBearer": []}],
        "responses": {"200": {"description": "the summary",
                              "content": {HTML: {"schema": {"type": "string"}},
                                          JSON: {"schema": _ref("OrderSummary")}}}} | _errors(401, 404)}},
    # -- reviewer API ----------------------------------------------------------------------
    "/review/api/token": {"post": {
        "tags": ["Review"], "operationId": "reviewerToken", "summary": "a reviewer bearer token",
        "requestBody": _json_body(_ref("ReviewerLogin"), JSON, FORM),
        "responses": _ok(_ref("ReviewerToken")) | _errors(400, 401, 413)}},
    "/review/api/queue": {"get": {
        "tags": ["Review"], "operationId": "reviewQueue", "security": _BEARER,
        "responses": _ok(_ref("ReviewQueue")) | _errors(401)}},
    "/review/api/cases/{order_id}": {"get": {
        "tags": ["Review"], "operationId": "reviewCase", "security": _BEARER, "parameters": [_ORDER_ID],
        "responses": _ok(_ref("ReviewCase")) | _errors(401, 404)}},
    "/review/api/cases/{order_id}/actions/{action}": {"post": {
        "tags": ["Review"], "operationId": "reviewAction", "security": _BEARER,
        "parameters": [_ORDER_ID, {"name": "action", "in": "path", "required": True,
                                   "schema": {"type": "string", "enum": REVIEW_ACTIONS}}],
        "requestBody": {"required": False, "content": {JSON: {"schema": _ref("ReviewActionParams")}}},
        "responses": _ok(_ref("ReviewCase")) | _errors(400, 401, 403, 404, 409, 413, 422)}},
    "/review/api/metrics": {"get": {
        "tags": ["Review"], "operationId": "reviewMetrics", "summary": "CMS-0057-F figures",
        "security": _BEARER, "parameters": _PERIOD + [_query("format", "csv for a CSV file")],
        "responses": {"200": {"description": "figures", "content": {JSON: {"schema": _ref("Metrics")},
                                                                    "text/csv": {"schema": {"type": "string"}}}}}
                     | _errors(400, 401)}},
    # -- portal (HTML for people; forms carry the session's CSRF token) ---------------------
    "/portal/": {"get": {"tags": ["Portal"], "operationId": "portalHome", "responses": {"200": _html("home")}}},
    "/portal/status": {"get": {
        "tags": ["Portal"], "operationId": "portalStatus",
        "parameters": [_query("order_id", "Order ID"), _query("npi", "submitting provider's NPI")],
        "responses": {"200": _html("status page"), "404": _html("no such case for this NPI")} | _errors(400)}},
    "/portal/status/summary": {"get": {
        "tags": ["Portal"], "operationId": "portalStatusSummary",
        "summary": "the printable order summary for the provider who checked the status",
        "parameters": [_query("order_id", "Order ID"), _query("npi", "submitting provider's NPI")],
        "responses": {"200": _html("printable summary"), "404": _html("no such case for this NPI")} | _errors(400)}},
    "/portal/login": {
        "get": {"tags": ["Portal"], "operationId": "portalLoginPage", "responses": {"200": _html("sign-in form")}},
        "post": {"tags": ["Portal"], "operationId": "portalLogin",
                 "parameters": [_query("next", "page to go to after signing in")],
                 "requestBody": {"required": True, "content": {FORM: {"schema": {
                     "type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                                                      "csrf_token": {"type": "string"}}}}}},
                 "responses": _REDIRECT | {"401": _html("wrong username or password")} | _errors(400, 413)}},
    "/portal/logout": {"post": {
        "tags": ["Portal"], "operationId": "portalLogout",
        "requestBody": {"required": False, "content": {FORM: {"schema": {
            "type": "object", "properties": {"csrf_token": {"type": "string"}}}}}},
        "responses": _REDIRECT | _errors(400)}},
    "/portal/review/": {"get": {"tags": ["Portal"], "operationId": "portalQueue",
                                "responses": {"200": _html("review queue")} | _REDIRECT}},
    "/portal/review/cases/{order_id}": {"get": {
        "tags": ["Portal"], "operationId": "portalCase", "parameters": [_ORDER_ID],
        "responses": {"200": _html("case page")} | _REDIRECT | _errors(404)}},
    "/portal/review/cases/{order_id}/{action}": {"post": {
        "tags": ["Portal"], "operationId": "portalAction",
        "parameters": [_ORDER_ID, {"name": "action", "in": "path", "required": True,
                                   "schema": {"type": "string", "enum": REVIEW_ACTIONS}}],
        "requestBody": {"required": False, "content": {FORM: {"schema": {"type": "object", "properties": {
            "csrf_token": {"type": "string"}, "note": {"type": "string"}, "information": {"type": "string"},
            "reason": {"type": "string"}, "duplicate_of": {"type": "string"}}}}}},
        "responses": _REDIRECT | {"403": _html("not allowed for this role"), "409": _html("invalid transition"),
                                  "422": _html("invalid parameters")} | _errors(400, 404, 413)}},
    "/portal/review/metrics": {"get": {
        "tags": ["Portal"], "operationId": "portalMetrics", "parameters": _PERIOD,
        "responses": {"200": _html("metrics page")} | _REDIRECT | _errors(400)}},
    "/portal/review/metrics.csv": {"get": {
        "tags": ["Portal"], "operationId": "portalMetricsCsv", "parameters": _PERIOD,
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}}
                     | _REDIRECT | _errors(400)}},
    # -- service ---------------------------------------------------------------------------
    "/health": {"get": {"tags": ["Service"], "operationId": "health",
                        "responses": _ok(_ref("Health"))}},
    "/openapi.json": {"get": {"tags": ["Service"], "operationId": "openapi", "summary": "this document",
                              "responses": _ok({"type": "object"})}},
    "/metrics": {"get": {"tags": ["Service"], "operationId": "metrics",
                         "summary": "Prometheus metrics (text format); only with the bearer token of "
                                    "ONCOPATH_METRICS_TOKEN, a 404 when none is configured",
                         "security": [{"metricsBearer": []}],
                         "responses": {**_ok({"type": "string"}, "text/plain"),
                                       "401": {"description": "no or wrong metrics token",
                                               "content": {"text/plain": {"schema": {"type": "string"}}}},
                                       "404": _outcome(404)}}},
}

_PREFLIGHT = {"tags": ["CORS"], "summary": "CORS preflight (answered before routing and JWT checks)",
              "responses": {"204": {"description": "Access-Control-Allow-* headers, no body"}}}


def document(server_url: str | None = None) -> dict:
    paths = copy.deepcopy(PATHS)
    for path, operations in paths.items():
        preflight = copy.deepcopy(_PREFLIGHT)
        preflight["operationId"] = "preflight" + "".join(
            part.strip("{}$").replace(".", "").replace("-", "").title() for part in path.split("/")) or "Root"
        params = [p for op in operations.values() for p in op.get("parameters", []) if p["in"] == "path"]
        if params:
            preflight["parameters"] = list({p["name"]: p for p in params}.values())
        operations["options"] = preflight
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "oncopath", "version": "0.1.0",
                 "description": "Oncology drug prior authorization and treatment-pathway review over "
                                "CDS Hooks 2.0 and Da Vinci PAS. Errors are FHIR OperationOutcomes."},
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "reviewerBearer": {"type": "http", "scheme": "bearer",
                                   "description": "token from POST /review/api/token"},
                "cdsJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "CDS Hooks client JWT (ES384/RS384, allow-listed issuer)"},
                "clientBearer": {"type": "http", "scheme": "bearer",
                                 "description": "SMART Backend Services access token from POST /oauth/token"},
                "metricsBearer": {"type": "http", "scheme": "bearer",
                                  "description": "the operator's ONCOPATH_METRICS_TOKEN"},
            },
        },
    }
    for path in ("/cds-services/{service_id}", "/cds-services/{service_id}/feedback"):
        doc["paths"][path]["post"]["security"] = [{"cdsJwt": []}]
    for path, method in (("/fhir/Claim/$submit", "post"), ("/fhir/Claim/$inquire", "post"),
                         ("/fhir/Subscription", "post"), ("/fhir/Subscription/{sub_id}", "get"),
                         ("/fhir/Subscription/{sub_id}", "delete")):
        operation = doc["paths"][path][method]
        operation["security"] = [{"clientBearer": []}]
        operation["responses"].update(_errors(401, 403))
    for path in ("/fhir/ClaimResponse/{order_id}", "/orders/{order_id}/summary"):
        doc["paths"][path]["get"]["security"] = [{"clientBearer": []}, {"reviewerBearer": []}, {}]
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
