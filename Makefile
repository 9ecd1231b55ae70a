# `make run` / `make test` set everything up on a fresh machine, then run. Set-up is
# idempotent: a venv whose stamp matches pyproject.toml is left alone. The stamps' names hold the
# hash of what they install, so they have no file prerequisites: a fresh clone's newer mtimes
# must not reinstall (a changed file gives a new stamp name, which does not exist yet).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
IPEX_VENV := .venv-ipex
IPEX_STAMP := $(IPEX_VENV)/.installed-$(shell cat requirements-ipex.txt requirements-ipex-nodeps.txt | sha256sum | cut -c1-16)
OPTIMUM_VENV := .venv-optimum
OPTIMUM_STAMP := $(OPTIMUM_VENV)/.installed-$(shell cat requirements-optimum.txt requirements-optimum-nodeps.txt | sha256sum | cut -c1-16)
CLUSTER_STAMP := $(VENV)/.cluster-$(shell cat pyproject.toml requirements-cluster-nodeps.txt | sha256sum | cut -c1-16)

.PHONY: setup setup-ipex setup-optimum setup-cluster run test test-all lint benchmark study clean-cache

setup: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# IPEX 2.8 needs torch 2.8: it lives in its own interpreter (conf/runtime/ipex.yaml names it).
setup-ipex: $(IPEX_STAMP)

$(IPEX_STAMP):
	@test -x $(IPEX_VENV)/bin/python || $(PYTHON) -m venv $(IPEX_VENV)
	$(IPEX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-ipex.txt
	$(IPEX_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-ipex-nodeps.txt
	@rm -f $(IPEX_VENV)/.installed-* && touch $@

# optimum-intel 2.2 needs transformers <= 5.5: its own interpreter too (conf/runtime/optimum_openvino.yaml).
setup-optimum: $(OPTIMUM_STAMP)

$(OPTIMUM_STAMP):
	@test -x $(OPTIMUM_VENV)/bin/python || $(PYTHON) -m venv $(OPTIMUM_VENV)
	$(OPTIMUM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-optimum.txt
	$(OPTIMUM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-optimum-nodeps.txt
	@rm -f $(OPTIMUM_VENV)/.installed-* && touch $@

# Ray and Slurm launchers (the `cluster` extra; docs/CLUSTER.md). hydra-ray-launcher goes in with --no-deps:
# its requirements (ray[default]<3, boto3, cloudpickle<3) serve only its AWS launcher and would downgrade cloudpickle.
setup-cluster: $(CLUSTER_STAMP)

$(CLUSTER_STAMP): | $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,cluster]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-cluster-nodeps.txt
	@rm -f $(VENV)/.cluster-* && touch $@

# The offline default experiment: BERT (MiniLM, fine-tuned once and cached), eager, batch 1.
run: setup
	$(PY) -m harness $(ARGS)

test: setup setup-ipex setup-optimum setup-cluster
	$(PY) -m pytest -q

# Everything, including the tests marked slow.
test-all: setup setup-ipex setup-optimum setup-cluster
	$(PY) -m pytest -q -m ""

lint: setup
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

benchmark: setup setup-ipex setup-optimum
	$(PY) benchmarks/grid.py

# The study's grid (conf/experiment/study.yaml; resumable: run it again to continue), then its report.
# ARGS narrows it, e.g. ARGS=workload=study_bert; a failed job still leaves the others' rows reported.
study: setup setup-ipex setup-optimum
	-$(PY) -m harness +experiment=study -m $(ARGS)
	$(PY) -m harness.report outputs/study

clean-cache:
	rm -rf outputs/cache
