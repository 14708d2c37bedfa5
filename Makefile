# thagen: `make demo` and `make test` set everything up themselves (a .venv in this folder).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.thagen-installed
# torch: this pin is a CPU wheel (any other spec may pull a multi-GB CUDA build). Override for GPUs.
TORCH_SPEC ?= torch==2.13.0

.PHONY: all setup test-deps test test-fast demo lint format bench clean

all: test

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/check-system.sh
	@scripts/check-system.sh $(PYTHON)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[train,farm,annotate,dev]'
	@$(BIN)/python -c "import bpy, torch, thagen; print('installed: thagen', thagen.__version__, '| Blender', bpy.app.version_string, '| torch', torch.__version__)"
	@touch $@

# system programs the real-parts tests use (Slurm, Chromium, CJK fonts): installed as root
test-deps:
	@scripts/install-test-deps.sh

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q

# the suite without the renders and training runs marked slow
test-fast: $(STAMP) test-deps
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/thagen render manifests/demo.yaml --restart

# ruff; the architecture (import-linter's contracts in pyproject.toml, and no import cycle at
# all); the type checker. The last two run over build/lint, a symlink view of the installed
# thagen.* namespace (scripts/lint-tree.sh).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@scripts/lint-tree.sh build/lint
	cd build/lint && PYTHONPATH=. $(abspath $(BIN))/lint-imports $(CURDIR)/pyproject.toml
	PYTHONPATH=build/lint $(BIN)/python scripts/import_graph.py --check
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/read_models.py
	$(BIN)/python bench/import_models.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/train.py

clean:
	rm -rf $(VENV) build *.egg-info demo-out .pytest_cache .ruff_cache .mypy_cache
