# Two commands on a fresh machine:
#   make train   create .venv if missing, install the package (runtime dependencies only), run the CPU quickstart
#   make test    create .venv if missing, install the package with test extras, run pytest
# Both install with -c constraints.txt: the versions the README's figures were measured with.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet -c constraints.txt
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test

.PHONY: install train test clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package's declaration or the pins change.
$(RUNTIME): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PIP) -e .
	touch $(RUNTIME)

$(TESTING): $(RUNTIME)
	$(PIP) -e ".[test]"
	touch $(TESTING)

install: $(TESTING)

train: $(RUNTIME)
	$(PY) training/run_experiment.py fit --config quickstart

test: $(TESTING)
	WANDB_MODE=offline GRADIO_ANALYTICS_ENABLED=False $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs wandb lightning_logs
