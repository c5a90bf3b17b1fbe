"""The OpenAPI 3 document of every HTTP route oncopath serves (served at GET /openapi.json).

`document(server_url=None) -> dict`. tests/test_openapi.py keeps it in sync with the app's
url_map (every rule in the document and every documented path in the app), and
tests/test_fuzz_schemathesis.py fuzzes the service from it.
"""
from server.openapi.document import document

__all__ = ["document"]
