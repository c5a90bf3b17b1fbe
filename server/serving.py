"""What a serving process does once, after `create_app` and before its first request.

- Compile the structure validators of the resources the mappings read (≈ 0.5 s of CPU):
  otherwise each gunicorn worker pays it inside its first requests.
- `gc.freeze()`: the knowledge base, the compiled validators and the imported models are
  ~150,000 long-lived objects; frozen, the collector stops re-scanning them (a full
  collection over them is a multi-millisecond pause on some unlucky request).
Tests do not call this: they build hundreds of apps in one process.
"""
from __future__ import annotations

import gc

from flask import Flask

from mappings import structure
from mappings.fhir import CONSUMED_RESOURCE_TYPES


def prepare(app: Flask) -> Flask:
    for resource_type in CONSUMED_RESOURCE_TYPES:
        structure.validator(resource_type)
    gc.freeze()
    return app
