# Every target creates or refreshes .venv (Python 3.11) with the pinned dependencies first.
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.wherewhen-installed
PIP         := $(PY) -m pip --disable-pip-version-check -q
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET_PIP   := sed "/is ignored: it is neither/d"

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) (first time: about two minutes)..."
	@# --no-compile: byte-compiling every installed file took ~50 of ~150 s; Python compiles what it imports, once
	@$(PIP) install --no-compile -r requirements.lock 2>&1 | $(QUIET_PIP)
	@$(PIP) install --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP)
	@$(PY) -c "import wherewhen, torch, torchvision, av, timm" 
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/wherewhen demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build dist src/*.egg-info
