"""Outbound HTTP that a caller can aim: CDS `fhirServer` reads and Subscription notifications.

Rules (SSRF):
- http(s) only, no user:password@, no fragment;
- every address a host name resolves to must be public (not private, loopback, link-local,
  multicast, reserved or unspecified; IPv4-mapped IPv6 is read as IPv4; `127.1`,
  `2130706433` and `localhost` all resolve to loopback), unless it is in
  OUTBOUND_ALLOWED_NETWORKS. The check runs when the connection is made, on the addresses
  actually used (a DNS answer that changes between a check and the connect gains nothing),
  and before any packet is sent to the target (no port-scan oracle);
- no redirects to another origin (scheme, host, port); at most MAX_REDIRECTS same-origin ones;
- one total deadline per exchange, redirects, connect, headers and body included: a timer
  shuts the sockets down when it passes, so a server that drips bytes cannot hold a worker.
"""
from __future__ import annotations

import contextvars
import ipaddress
import socket
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
NOT_ALLOWED = "the target address is not allowed (private, loopback or link-local)"


class TargetNotAllowed(urllib3.exceptions.NewConnectionError):
    def __init__(self, conn, message=NOT_ALLOWED):
        super().__init__(conn, message)


class OutboundPolicy:
    def __init__(self, allowed_networks=()):
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in allowed_networks or ())

    def allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip.version == n.version and ip in n for n in self.networks):
            return True
        return ip.is_global and not ip.is_multicast

    def url_problem(self, url: str) -> str | None:
        """Why this URL may not be called, from its text alone (addresses are checked at connect)."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "not an http(s) URL"
        if parts.username is not None or parts.password is not None:
            return "a URL with user information is not accepted"
        if parts.fragment:
            return "a URL with a fragment is not accepted"
        if port == 0:
            return "not a valid port"
        literal = _ip_literal(parts.hostname)
        if literal is not None and not self.allows(literal):
            return NOT_ALLOWED
        return None


def _ip_literal(host: str) -> str | None:
    """The address a host written as an IP (in any form inet_aton reads: 127.1, 2130706433,
    0x7f.1) stands for, or None for a name."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


# -- one total deadline -----------------------------------------------------------------------

class Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def register(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            expired = self.expired
        if expired:
            self._fire()

    def cancel(self) -> None:
        self._timer.cancel()


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("oncopath_outbound_deadline",
                                                                            default=None)


def _guarded(base, policy: OutboundPolicy):
    class Guarded(base):
        def _new_conn(self):
            host = self._dns_host
            try:
                infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise urllib3.exceptions.NameResolutionError(host, self, exc) from None
            if not infos or not all(policy.allows(info[4][0]) for info in infos):
                raise TargetNotAllowed(self)
            deadline = _DEADLINE.get()
            if deadline is not None and deadline.expired:
                raise urllib3.exceptions.ConnectTimeoutError(self, "deadline passed")
            sock = super()._new_conn()
            try:
                peer = sock.getpeername()[0]
            except OSError:
                peer = None
            if peer is None or not policy.allows(peer):   # the address actually used
                sock.close()
                raise TargetNotAllowed(self)
            if deadline is not None:
                deadline.register(sock)
            return sock
    return Guarded


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, policy: OutboundPolicy, **kw):
        self.policy = policy
        super().__init__(max_retries=0, **kw)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        policy = self.policy

        class Pool(HTTPConnectionPool):
            ConnectionCls = _guarded(HTTPConnection, policy)

        class SPool(HTTPSConnectionPool):
            ConnectionCls = _guarded(HTTPSConnection, policy)

        self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SPool}


def session(policy: OutboundPolicy) -> requests.Session:
    """A requests Session that only connects where `policy` allows (no proxies from the env)."""
    s = requests.Session()
    s.trust_env = False
    adapter = _GuardedAdapter(policy)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


class OutboundError(Exception):
    """A refused or failed exchange; `reason` is safe to show (no target detail)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def request(sess: requests.Session, method: str, url: str, *, timeout: float, policy: OutboundPolicy,
            headers: dict | None = None, data: bytes | None = None, read=None, follow_redirects: bool = True):
    """One exchange under a total deadline, following same-origin redirects only.

    `read(response, deadline)` consumes the body inside the deadline and returns what the
    caller wants; without it the response is returned unread (closed). Raises OutboundError."""
    problem = policy.url_problem(url)
    if problem:
        raise OutboundError(problem)
    deadline = Deadline(timeout)
    token = _DEADLINE.set(deadline)
    start = origin(url)
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline.remaining()
            if remaining <= 0:
                raise OutboundError("timeout")
            try:
                resp = sess.request(method, url, headers=headers, data=data, timeout=(remaining, remaining),
                                    allow_redirects=False, stream=True)
            except requests.RequestException as exc:
                raise OutboundError(_reason(exc, deadline)) from None
            if follow_redirects and resp.status_code in REDIRECT_STATUSES and resp.headers.get("Location"):
                target = urljoin(url, resp.headers["Location"])
                resp.close()
                if origin(target) != start or policy.url_problem(target):
                    raise OutboundError("redirect to another origin refused")
                if resp.status_code == 303:
                    method, data = "GET", None
                url = target
                continue
            try:
                if read is None:
                    resp.close()
                    return resp
                return read(resp, deadline)
            except (requests.RequestException, OSError, urllib3.exceptions.HTTPError) as exc:
                raise OutboundError(_reason(exc, deadline)) from None
            finally:
                resp.close()
        raise OutboundError(f"more than {MAX_REDIRECTS} redirects")
    finally:
        _DEADLINE.reset(token)
        deadline.cancel()


def _reason(exc: Exception, deadline: Deadline) -> str:
    if deadline.expired or isinstance(exc, (requests.Timeout, TimeoutError, urllib3.exceptions.TimeoutError)) \
            or "timed out" in str(exc).lower():
        return "timeout"
    text = str(exc)
    if NOT_ALLOWED in text:
        return NOT_ALLOWED
    return f"connection error ({type(exc).__name__})"
