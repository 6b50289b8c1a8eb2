# Two commands: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
COHORT ?= 2026-spring

.PHONY: setup demo test lint bench bench-scale clean

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	bash scripts/system-deps.sh node
	npm ci --no-audit --no-fund --silent   # JupyterHub's proxy → node_modules/.bin
	touch $(STAMP)

setup: $(STAMP)

## Check, build and export the sample course; prints the handout index.
demo: setup
	bash scripts/system-deps.sh fonts
	$(BIN)/casekit check .
	$(BIN)/casekit build $(COHORT)
	$(BIN)/casekit guide
	$(BIN)/casekit handouts $(COHORT)

## The whole test suite: real kernels, JupyterLab in Chromium, SQLite and PostgreSQL.
test: setup
	bash scripts/system-deps.sh test
	$(BIN)/ruff check kit tests bench scripts
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: setup
	$(BIN)/ruff format kit tests bench
	$(BIN)/ruff check --fix kit tests bench

bench: setup
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/bench_execute.py
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_proof.py   # the build's proof against main's build
	$(BIN)/python bench/bench_grade.py
	$(BIN)/python bench/bench_otter.py   # otter-grader's own grading beside casekit's
	$(BIN)/python bench/bench_sandbox.py
	$(BIN)/python bench/bench_cluster.py
	$(BIN)/python bench/bench_marking.py
	$(BIN)/python bench/bench_live.py
	$(BIN)/python bench/bench_hub.py   # root: makes system users (the classroom hub)

## Programme scale (28,000 submissions, SQLite and PostgreSQL; ~15 min on 2 cores).
bench-scale: setup
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf build exchange submissions gradebook.sqlite
