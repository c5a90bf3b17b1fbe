"""The `oncopath` command: serve the service, or review a FHIR Bundle offline."""
from __future__ import annotations

import argparse
import os
import sys

# Threads per gunicorn worker (gthread workers when > 1): a request waiting on the database
# would leave the worker's CPU to another request. Default 1 = sync workers: on 2 cores against
# a loopback PostgreSQL, 4 threads cost ~30% more CPU per request (GIL hand-offs) and halved
# order-sign throughput (benchmarks/run.py --worker-threads); worth re-measuring only against
# a database with a slow commit (remote, synchronous replication).
DEFAULT_THREADS = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="oncopath", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service under gunicorn")
    serve.add_argument("--host", default=os.environ.get("ONCOPATH_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("ONCOPATH_PORT", "8080")))
    serve.add_argument("--database-url", default=None,
                       help="sqlite:///path or postgresql+psycopg://... (env ONCOPATH_DATABASE_URL)")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("ONCOPATH_WORKERS", "0")),
                       help="gunicorn workers (default: number of cores)")
    serve.add_argument("--threads", type=int,
                       default=int(os.environ.get("ONCOPATH_THREADS", str(DEFAULT_THREADS))),
                       help=f"threads per worker, gthread workers when > 1 (default {DEFAULT_THREADS} = "
                            "sync workers; env ONCOPATH_THREADS)")
    serve.add_argument("--dev", action="store_true", help="Flask's development server with reloader")
    serve.add_argument("--sandbox", action="store_true",
                       help="sandbox mode for testers (env ONCOPATH_SANDBOX=1): demo client, reviewer and patients, "
                            "the scenario catalogue at /sandbox; refused on a database with other data")
    serve.add_argument("--metrics-port", type=int, default=int(os.environ.get("ONCOPATH_METRICS_PORT", "0")),
                       help="also serve /metrics (Prometheus) on this port, without a token (default: off; "
                            "env ONCOPATH_METRICS_PORT); on the service port /metrics needs ONCOPATH_METRICS_TOKEN")
    serve.add_argument("--metrics-host", default=os.environ.get("ONCOPATH_METRICS_HOST", "127.0.0.1"),
                       help="address of --metrics-port (default loopback)")

    review = sub.add_parser("review", help="evaluate a FHIR Bundle offline and print the decision")
    review.add_argument("file", help="a PAS request Bundle, or a collection Bundle of the patient's "
                                     "resources plus draft MedicationRequests")
    review.add_argument("--json", action="store_true", help="machine-readable output")
    review.add_argument("--knowledge-dir", default=None)

    reviewer = sub.add_parser("reviewer", help="manage clinical reviewer accounts")
    rsub = reviewer.add_subparsers(dest="reviewer_command", required=True)
    create = rsub.add_parser("create", help="create a nurse or physician reviewer; the password is read "
                                            "from ONCOPATH_REVIEWER_PASSWORD or prompted for")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=["nurse", "physician"])
    create.add_argument("--database-url", default=None, help="default: ONCOPATH_DATABASE_URL or the config default")

    from server import client_cli, kb_cli
    client_cli.add_parser(sub)
    kb_cli.add_parser(sub)
    sweep = sub.add_parser("sweep-overdue", help="escalate every pended case past due to a physician reviewer "
                                                  "(the notification worker also does this once a minute)")
    sweep.add_argument("--database-url", default=None, help="default: ONCOPATH_DATABASE_URL or the config default")

    args = parser.parse_args(argv)
    if args.command == "sweep-overdue":
        from server.review.cli import sweep_overdue
        return sweep_overdue(database_url=args.database_url)
    if args.command == "serve":
        return _serve(args)
    if args.command == "client":
        return client_cli.run(args)
    if args.command == "kb":
        return kb_cli.run(args)
    if args.command == "reviewer":
        from server.review.cli import create_reviewer
        return create_reviewer(args.username, args.role, database_url=args.database_url)
    from server.review_cli import run_review
    return run_review(args.file, as_json=args.json, knowledge_dir=args.knowledge_dir)


def _serve(args) -> int:
    if args.database_url:
        os.environ["ONCOPATH_DATABASE_URL"] = args.database_url
    from server import config as _config
    from server.sandbox import cli as sandbox

    if args.sandbox or _config.from_environment().get("SANDBOX"):
        refused = sandbox.prepare(args)
        if refused is not None:
            return refused
        problem = None
    else:
        problem = sandbox.refuse_sandbox_database(args.database_url)
    problem = problem or sandbox.refuse_public_sandbox_issuer({**_config.DEFAULTS, **_config.from_environment()},
                                                              args.host)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.dev:
        os.environ.setdefault("ONCOPATH_DEV", "1")
        os.environ.setdefault("ONCOPATH_CDS_JWT_REQUIRED", "0")
        os.environ.setdefault("ONCOPATH_FHIR_AUTH_REQUIRED", "0")
        from server.app import create_app
        create_app().run(host=args.host, port=args.port, debug=True)
        return 0
    from gunicorn.app.base import BaseApplication

    from server import config
    from server.app import create_app

    settings = {**config.DEFAULTS, **config.from_environment()}
    if (settings["CDS_JWT_REQUIRED"] or settings["FHIR_AUTH_REQUIRED"]) and not settings["PUBLIC_BASE_URL"]:
        print("oncopath: set ONCOPATH_PUBLIC_BASE_URL (the URL clients call, the audience of every JWT), "
              "or use make serve / --dev for local work without JWTs and tokens", file=sys.stderr)
        return 2
    workers = args.workers or os.cpu_count() or 1
    threads = max(1, args.threads)
    if not os.environ.get("ONCOPATH_SECRET_KEY"):
        # One key for every worker of this run, made before they fork: otherwise each worker
        # signs portal sessions with its own key and a sign-in works on one worker only.
        # It still ends with the process; production sets ONCOPATH_SECRET_KEY.
        import secrets
        import sys as _sys
        os.environ["ONCOPATH_SECRET_KEY"] = secrets.token_hex(32)
        print("oncopath: no ONCOPATH_SECRET_KEY set; portal sessions last until this server stops",
              file=_sys.stderr)

    # Metrics of every worker summed at a scrape (server/metrics.py): a fresh directory per start,
    # named before anything imports prometheus_client.
    from server.metrics_dir import prepare_multiprocess_dir
    metrics_dir, made_here = prepare_multiprocess_dir()
    from server import metrics
    json_logs = os.environ.get("ONCOPATH_LOG_FORMAT", "text").strip().lower() == "json"

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", workers)
            if threads > 1:
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            # Access log format without query strings: they can carry member ids.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms')
            if json_logs:
                self.cfg.set("logger_class", "server.logs.JsonGunicornLogger")
            self.cfg.set("child_exit", lambda _server, worker: metrics.mark_process_dead(worker.pid))
            if args.metrics_port:
                self.cfg.set("when_ready", lambda _server: metrics.serve_separately(
                    args.metrics_host, args.metrics_port, settings["DATABASE_URL"]))

        def load(self):
            from server.serving import prepare
            return prepare(create_app())

    try:
        _App().run()
    finally:
        if made_here:
            import shutil
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
