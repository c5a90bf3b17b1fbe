# Two set-up commands, both work on a fresh machine:
#   make serve   start the service (SQLite + bundled knowledge base) on :8080
#   make sandbox start it in sandbox mode on :8080 (var/sandbox.db; README, "Testing your client")
#   make test    run the whole test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: serve sandbox test venv clean browser bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# The development configuration: CDS Hooks JWT verification off and the FHIR door open (logged
# at start-up) so the README's curl examples work as they are. `oncopath serve` alone requires
# JWTs, client access tokens and PUBLIC_BASE_URL (see README, Security).
serve: $(STAMP)
	ONCOPATH_CDS_JWT_REQUIRED=$${ONCOPATH_CDS_JWT_REQUIRED:-0} \
	ONCOPATH_FHIR_AUTH_REQUIRED=$${ONCOPATH_FHIR_AUTH_REQUIRED:-0} $(VENV)/bin/oncopath serve

# Sandbox mode for testers of PAS / CRD clients: demo client, reviewer and patients, the scenario
# catalogue at http://127.0.0.1:8080/sandbox, the tester endpoint; its own database var/sandbox.db.
sandbox: $(STAMP)
	$(VENV)/bin/oncopath serve --sandbox

# The browser test (tests/browser) drives Debian's chromium, never a downloaded browser build:
# install it when missing, if we are root with apt-get; otherwise that test skips (fails under CI=true).
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: the browser test will not run"; \
	else echo "no $(CHROMIUM), and not root with apt-get: the browser test will be skipped"; fi

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

# Benchmarks (not a set-up command): gunicorn on SQLite and PostgreSQL driven by Debian's wrk.
bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null); } || \
	  { echo "wrk is needed: apt-get install -y wrk"; exit 1; }
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
