"""`oncopath reviewer create --username U --role nurse|physician`; `oncopath sweep-overdue`.

The password comes from the environment variable ONCOPATH_REVIEWER_PASSWORD or, when it is
not set, from a prompt (asked twice, not echoed). Nothing sensitive is printed."""
from __future__ import annotations

import getpass
import os
import sys
from datetime import datetime, timezone

from server.errors import ServiceError
from server.review import accounts

PASSWORD_ENV = "ONCOPATH_REVIEWER_PASSWORD"


def _password() -> str | None:
    password = os.environ.get(PASSWORD_ENV)
    if password is not None:
        return password
    if not sys.stdin.isatty():
        print(f"set {PASSWORD_ENV} or run in a terminal to be prompted for the password", file=sys.stderr)
        return None
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        print("the passwords differ", file=sys.stderr)
        return None
    return first


def _database_url(database_url: str | None) -> str:
    from server import config

    return database_url or config.from_environment().get("DATABASE_URL") or config.DEFAULTS["DATABASE_URL"]


def create_reviewer(username: str, role: str, *, database_url: str | None = None) -> int:
    from server.store import CaseStore
    from server.store.review import ReviewStore

    if role not in accounts.REVIEWER_ROLES:
        print(f"role must be one of {', '.join(accounts.REVIEWER_ROLES)}", file=sys.stderr)
        return 2
    password = _password()
    if password is None:
        return 2
    problem = accounts.check_new_password(password)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    store = CaseStore.from_url(_database_url(database_url))
    try:
        ReviewStore(store).add_reviewer(username, role, accounts.hash_password(password),
                                        now=datetime.now(timezone.utc), actor="cli")
    except ServiceError as err:
        print(str(err), file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(f"reviewer {username} ({role}) created")
    return 0


def sweep_overdue(*, database_url: str | None = None, now: datetime | None = None) -> int:
    """The deadline sweep once (server/review/deadlines.py); prints the Order IDs escalated."""
    from server.review.deadlines import sweep_overdue as sweep
    from server.store import CaseStore
    from server.store.review import ReviewStore

    store = CaseStore.from_url(_database_url(database_url))
    try:
        escalated = sweep(ReviewStore(store), now or datetime.now(timezone.utc))
    finally:
        store.dispose()
    print(f"{len(escalated)} overdue case(s) escalated to a physician reviewer"
          + (": " + ", ".join(escalated) if escalated else ""))
    return 0
