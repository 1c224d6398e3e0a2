# Two targets do everything on a fresh machine with Python 3.11 and pip:
#   make book   build the HTML book into _build/html (warnings are errors)
#   make test   the strict book build, unit tests and nbval over every notebook
# CI (.ci/run) adds: make portability (nbval under two emulated CPUs), make browser-test (headless Chromium)
# Also: make execute [NB=book/x.ipynb]   re-execute stored notebooks in place
#       make lab                         JupyterLab on the course's environment, data folder set
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EMULATE := ../shared/tools/emulate-cpu
NB     ?= $(wildcard book/*.ipynb)

# Loaders read real datasets from $COMPANION_DATA first (no network needed); in CI and
# on a developer machine that is the shared folder beside the checkout.
ifneq ($(wildcard ../shared/data),)
export COMPANION_DATA ?= $(abspath ../shared/data)
endif
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit notebooks portability execute lab build-book setup clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

build-book: $(STAMP)
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W -n --keep-going

book: build-book
	@echo "Book built: open file://$(abspath _build/html/index.html)"

unit: $(STAMP)
	$(BIN)/python -m pytest tests -n 2

notebooks: $(STAMP)
	$(BIN)/python -m pytest book -n 2 --dist loadfile --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 300

# The stored outputs must not depend on the reader's CPU: re-run nbval as if on a typical AVX2 laptop
# and on a machine with only portable kernels. The emulation tool lives beside the checkout, not in it.
portability: $(STAMP)
	@if [ ! -x $(EMULATE) ]; then \
		echo "portability: SKIPPED -- $(EMULATE) not found (it comes with the course's shared/ folder" \
		     "beside the checkout); the notebooks were checked on this CPU only"; \
	else \
		for profile in avx2 generic; do \
			echo "== nbval under emulate-cpu $$profile"; \
			$(EMULATE) $$profile $(MAKE) --no-print-directory notebooks || exit 1; \
		done; \
	fi

execute: $(STAMP)
	$(BIN)/python tests/tools/execute_notebooks.py $(NB)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=book

# The book first (fast failure on a warning), the tests last so their summary closes the log.
test: build-book unit notebooks

clean:
	rm -rf _build
