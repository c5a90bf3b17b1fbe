"""The README's flow: make a key pair, register the client with the CLI, sign an assertion with
the script, get a token, submit; then list and revoke with the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

from flask.testing import FlaskClient

from conftest import ASSERTION_TYPE, REPO
from reliability.harness import load_fixture
from server.cli import main

from .conftest import SUBMIT, VICTIM_NPI, make_closed_app, outcome

SCRIPT = str(REPO / "scripts" / "client_assertion.py")


def test_the_readme_flow_registers_a_client_whose_signed_assertion_gets_a_working_token(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'sec.db'}"
    key, jwks = tmp_path / "client-key.pem", tmp_path / "client-jwks.json"
    subprocess.run([sys.executable, SCRIPT, "keygen", "--private", str(key), "--jwks", str(jwks)], check=True)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "d" not in json.loads(jwks.read_text())["keys"][0]           # the public half only

    app = make_closed_app(tmp_path)     # migrates the database the CLI then writes to
    capsys.readouterr()
    assert main(["client", "register", "--name", "Riverside gateway", "--jwks", str(jwks),
                 "--organization-npi", VICTIM_NPI, "--database-url", url]) == 0
    client_id = capsys.readouterr().out.strip().splitlines()[-1]
    assert app.extensions["oncopath.clients"].get(client_id).organizations == (VICTIM_NPI,)

    assertion = subprocess.run([sys.executable, SCRIPT, "sign", "--private", str(key), "--client-id", client_id,
                                "--token-url", "http://localhost/oauth/token"],
                               check=True, capture_output=True, text=True).stdout.strip()
    http = FlaskClient(app)
    token = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                                            "client_assertion": assertion}).get_json()["access_token"]
    resp = http.post(SUBMIT, data=json.dumps(load_fixture("pas/thp-her2-positive.json")),
                     content_type="application/fhir+json", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.get_json()["entry"][0]["resource"]["outcome"] == "complete"

    assert main(["client", "list", "--database-url", url]) == 0
    listed = capsys.readouterr().out
    assert client_id in listed and "active" in listed and "Riverside gateway" in listed
    assert main(["client", "revoke", client_id, "--database-url", url]) == 0
    capsys.readouterr()
    again = http.post(SUBMIT, data=json.dumps(load_fixture("pas/thp-her2-positive.json")),
                      content_type="application/fhir+json", headers={"Authorization": f"Bearer {token}"})
    assert "revoked" in outcome(again, 401)["diagnostics"]
    assert main(["client", "list", "--database-url", url]) == 0
    assert "revoked" in capsys.readouterr().out


def test_register_refuses_a_key_set_holding_a_private_key(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'sec.db'}"
    make_closed_app(tmp_path)
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [{"kty": "EC", "crv": "P-384", "x": "a", "y": "b", "d": "secret"}]}))
    assert main(["client", "register", "--name", "x", "--jwks", str(private), "--organization-npi", VICTIM_NPI,
                 "--database-url", url]) == 2
    assert "private key" in capsys.readouterr().err

# Test tier (unit | integration | e2e: see tests/conftest.py); `pytest -m unit` runs the fast loop.
import pytest  # noqa: E402

pytestmark = pytest.mark.e2e


def test_a_new_client_id_never_reads_as_a_command_line_option():
    from server.security.clients import new_client_id
    ids = [new_client_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == len(ids)
