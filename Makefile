# Two commands on a fresh machine:
#   make train   create .venv if missing, install the package, run the CPU quickstart
#   make test    create .venv if missing, install the package with test extras, run pytest
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install train test clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package's declaration changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(PY) training/run_experiment.py fit --config quickstart

test: $(STAMP)
	WANDB_MODE=offline GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs wandb lightning_logs
