"""server/jsontext.py: orjson on the fast path, the standard library's verdicts on the rest."""
from __future__ import annotations

import json

import pytest

from server import jsontext


def test_what_orjson_refuses_is_parsed_or_refused_by_the_standard_library_with_the_callers_options():
    assert jsontext.loads(b'{"a": [1, 2.5, "x"]}') == {"a": [1, 2.5, "x"]}
    assert jsontext.loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert jsontext.loads('{"k": "v"}'.encode("utf-16")) == {"k": "v"}
    assert jsontext.loads(b"\xef\xbb\xbf{\"k\": 1}") == {"k": 1}

    def refuse(name):
        raise ValueError(f"refused {name}")

    with pytest.raises(ValueError, match="refused NaN"):
        jsontext.loads(b'{"x": NaN}', parse_constant=refuse)
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads(b'{"x": ')


def test_encoding_is_compact_utf8_in_the_order_built_and_reads_back_equal():
    value = {"z": 1, "a": [True, None, 1.5], "é": "ü", 3: "int key"}
    text = jsontext.dumps(value)
    assert text == '{"z":1,"a":[true,null,1.5],"é":"ü","3":"int key"}'.encode("utf-8")
    assert json.loads(text) == json.loads(json.dumps(value))
    assert jsontext.dumps({"big": 2 ** 70}) == b'{"big":1180591620717411303424}'


pytestmark = pytest.mark.unit
