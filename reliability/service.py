"""The real service under gunicorn in a subprocess (its own process group, so SIGKILL takes the
master and every worker at once), on loopback only, and the request bodies the load uses."""
from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from reliability.harness import REPO, load_fixture

ORDER_ID_SYSTEM = "urn:oncopath:order-id"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GunicornService:
    """`oncopath serve` (gunicorn) on 127.0.0.1; `kill()` is SIGKILL to the whole process group."""

    def __init__(self, database_url: str, log_path: Path, *, workers: int = 2, port: int | None = None,
                 env: dict | None = None):
        self.database_url = database_url
        self.log_path = Path(log_path)
        self.workers = workers
        self.port = port or free_port()
        self.env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "GunicornService":
        env = {**os.environ, "ONCOPATH_SECRET_KEY": "reliability-secret", "ONCOPATH_CDS_JWT_REQUIRED": "0",
               "ONCOPATH_FHIR_AUTH_REQUIRED": "0",
               "PYTHONPATH": str(REPO), **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--database-url", self.database_url, "--workers", str(self.workers)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer /health within {timeout} s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The master and its workers (children), from /proc."""
        if self.proc is None:
            return []
        out = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.proc.pid:
                    out.append(int(entry.name))
        return out

    def rss_bytes(self) -> int:
        """Resident memory of master + workers (VmRSS)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Graceful: SIGTERM to the group, SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass


# -- bodies ---------------------------------------------------------------------------------

_SUBMIT = load_fixture("pas/thp-her2-positive.json")
_INQUIRY = load_fixture("pas/inquiry-riverside.json")
_HOOK = load_fixture("hooks/order-sign-thp-her2-positive.json")


def _set_member(bundle: dict, member: str) -> None:
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for ident in resource.get("identifier", []):
                ident["value"] = member
        elif resource["resourceType"] == "Coverage":
            resource["subscriberId"] = member


def submit_bundle(key: str) -> dict:
    """The THP fixture as a new request: its own Claim identifier and its own member (so that
    each case is alone in its member's history and in an inquiry)."""
    bundle = copy.deepcopy(_SUBMIT)
    bundle["identifier"]["value"] = f"tx-{key}"
    claim = bundle["entry"][0]["resource"]
    claim["identifier"][0]["value"] = f"claim-{key}"
    _set_member(bundle, f"MBR-{key}")
    return bundle


def inquiry_bundle(key: str) -> dict:
    bundle = copy.deepcopy(_INQUIRY)
    bundle["identifier"]["value"] = f"inq-{key}"
    _set_member(bundle, f"MBR-{key}")
    return bundle


def _set_member_everywhere(node, member: str) -> None:
    if isinstance(node, dict):
        if node.get("resourceType") == "Patient":
            for ident in node.get("identifier") or []:
                ident["value"] = member
        elif node.get("resourceType") == "Coverage":
            node["subscriberId"] = member
            for ident in node.get("identifier") or []:
                ident["value"] = member
        for value in node.values():
            _set_member_everywhere(value, member)
    elif isinstance(node, list):
        for value in node:
            _set_member_everywhere(value, member)


def hook_request(key: str) -> dict:
    """The THP order-sign fixture as a new call: its own hookInstance and member."""
    body = copy.deepcopy(_HOOK)
    body["hookInstance"] = f"hook-{key}"
    _set_member_everywhere(body.get("prefetch"), f"MBR-H-{key}")
    return body


def order_id(pas_response: dict) -> str | None:
    """The Order ID of a PAS response Bundle (ClaimResponse.identifier)."""
    try:
        claim_response = pas_response["entry"][0]["resource"]
    except (KeyError, IndexError, TypeError):
        return None
    for ident in claim_response.get("identifier") or []:
        if ident.get("system") == ORDER_ID_SYSTEM:
            return ident.get("value")
    return None


def inquiry_order_ids(parameters: dict) -> list[str]:
    return [order_id(p.get("resource") or {}) for p in parameters.get("parameter") or []]
