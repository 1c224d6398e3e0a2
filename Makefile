# Two targets do everything on a fresh machine with Python 3.11 and pip:
#   make book   build the HTML book into _build/html (warnings are errors)
#   make test   unit tests, nbval over every notebook, and the same strict book build
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Loaders read real datasets from $COMPANION_DATA first (no network needed); in CI and
# on a developer machine that is the shared folder beside the checkout.
ifneq ($(wildcard ../shared/data),)
export COMPANION_DATA ?= $(abspath ../shared/data)
endif
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test unit notebooks build-book setup clean

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

# The book first (fast failure on a warning), the test runs last so their summary closes the log.
test: build-book unit notebooks

clean:
	rm -rf _build
