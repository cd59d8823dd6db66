# Two entry points (see README): `make demo` runs the main job offline, `make test` runs the whole suite.
# Each sets up its own virtual environment on a fresh machine; re-runs reuse it until pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: demo test bench setup clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

# lmms-eval's `llava` model (original LLaVA layout) imports the `llava` package: PyPI's llava-torch, installed
# without its dependencies because it pins an old torch and transformers (an extra cannot say --no-deps).
# tests/test_model_llava.py needs it; lmms_eval_eibench/llava_original.py names the same version.
LLAVA_ORIGINAL := llava-torch==1.2.2.post1

$(VENV)/.llava-original: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-deps "$(LLAVA_ORIGINAL)"
	touch $@

setup: $(VENV)/.installed $(VENV)/.llava-original

demo: setup
	$(PY) scripts/demo.py

# Two workers: the suite is dominated by real lmms-eval / lm-eval runs, each a single busy process.
test: setup
	$(PY) -m pytest -q -n 2

bench: setup
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
