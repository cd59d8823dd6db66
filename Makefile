# Two entry points (see README): `make demo` runs the main job offline, `make test` runs the whole suite.
# Each sets up its own virtual environment on a fresh machine; re-runs reuse it until pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: demo test bench setup setup-llava clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed

# lmms-eval's `--model llava` (checkpoints in the original LLaVA layout) imports LLaVA-NeXT's `llava` package, whose
# code works with transformers 4.39.2 up to 4.55 only (README, "--model llava"): a second environment beside .venv,
# built as the README tells users to (the plugin with its embedding judge, transformers 4.55.4, then LLaVA-NeXT
# without its dependencies, which pin an old torch), except that LLaVA-NeXT comes from ../shared because these
# machines cannot reach GitHub. Torch resolves as in .venv. tests/test_model_llava.py runs lmms-eval in it.
LLAVA_VENV   ?= .venv-llava
LLAVA_NEXT   ?= ../shared/llava-next/LLaVA-NeXT-df17966.tar.gz
LLAVA_TRANSFORMERS := transformers==4.55.4
LLAVA_PY     := $(LLAVA_VENV)/bin/python
export EIBENCH_LLAVA_VENV := $(abspath $(LLAVA_VENV))

$(LLAVA_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LLAVA_VENV)
	$(LLAVA_PY) -m pip install --quiet --upgrade pip
	$(LLAVA_PY) -m pip install --quiet -e ".[embedding]" "$(LLAVA_TRANSFORMERS)"
	$(LLAVA_PY) -m pip install --quiet --no-deps "$(LLAVA_NEXT)"
	$(LLAVA_PY) -m pip check
	touch $@

setup-llava: $(LLAVA_VENV)/.installed

demo: setup
	$(PY) scripts/demo.py

# Two workers: the suite is dominated by real lmms-eval / lm-eval runs, each a single busy process.
test: setup setup-llava
	$(PY) -m pytest -q -n 2

bench: setup
	for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(LLAVA_VENV) build dist *.egg-info
