# make run  — set everything up and serve the app on http://127.0.0.1:8080 (SQLite by default)
# make test — set everything up and run the whole suite (SQLite and PostgreSQL, and the browser)
# make i18n — merge new `_()` / `_l()` strings into app/translations (vi, en); then translate the en ones

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# test processes (pytest-xdist); 0 runs the suite in this one process
TEST_WORKERS ?= 2
STAMP  := $(VENV)/.installed

.PHONY: run test install translations i18n chromium signing-tools deploy-tools postgres lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Cần Python 3.11 ($(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

translations: $(STAMP)
	$(VENV)/bin/pybabel compile -f -d app/translations >/dev/null

# Re-extract the strings of app/ (babel.cfg) and merge them into vi and en, keeping translations.
i18n: $(STAMP)
	$(PY) app/translations/update_catalogs.py
	$(MAKE) translations

run: install
	$(PY) run.py serve

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Cài Chromium (Debian) cho kiểm thử trình duyệt…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# SoftHSM2 (a PKCS#11 token for the HSM signing test) and poppler's pdfsig (lists signatures)
signing-tools:
	@command -v softhsm2-util >/dev/null 2>&1 && command -v pdfsig >/dev/null 2>&1 || { \
	  echo "Cài SoftHSM2 và poppler-utils (Debian) cho kiểm thử ký số…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    softhsm2 poppler-utils >/dev/null; }

# nginx in front of gunicorn and Redis for the shared login rate limit, for the deployment tests
# (tests/test_deployment.py, tests/test_rate_limit.py)
deploy-tools:
	@{ command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } && \
	 command -v redis-server >/dev/null 2>&1 || { \
	  echo "Cài nginx-light và redis-server (Debian) cho kiểm thử triển khai…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    nginx-light redis-server >/dev/null; }

postgres:
	@pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || { \
	  command -v pg_ctlcluster >/dev/null 2>&1 && \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; }

test: install chromium signing-tools deploy-tools postgres
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
