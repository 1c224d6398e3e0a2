# Two targets do everything on a fresh machine with Python 3.11 and pip:
#   make book   build the HTML book into _build/html (warnings are errors): the English edition at the
#               root, the Chinese edition (translated through locales/zh_CN/) under _build/html/zh/
#   make test   the strict book build, unit tests and nbval over every notebook
# CI (.ci/run) adds: make portability (nbval under two emulated CPUs), make browser-test (headless Chromium)
#       make browser-test                every page of the built book in headless Chromium with no network,
#                                        then the book's markup in JupyterLab (tests/browser/)
# Also: make book-zh                      the Chinese edition alone (into _build/html/zh/)
#       make translations                re-extract the English messages, update locales/zh_CN/ catalogs
#                                        (new or changed English text: untranslated or fuzzy until done)
#       make execute [NB=book/x.ipynb]   re-execute stored notebooks in place
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

.PHONY: book test unit notebooks portability execute lab build-book book-zh translations setup clean browser-test \
	lab-test chromium

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@# the distribution was called `companion` before it became rnn-course-companion: drop the old editable install
	-@$(BIN)/python -m pip uninstall --quiet --yes companion >/dev/null 2>&1
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python tests/browser/install_mathjax.py  # self-hosted MathJax 3 into .venv/share/mathjax
	touch $(STAMP)

# The two editions build side by side (one core each); the Chinese build's log is shown after the English
# one's, whole if it failed. Either failing fails the target.
build-book: $(STAMP)
	rm -rf _build/html
	@mkdir -p _build
	@$(BIN)/python tests/tools/build_edition.py zh_CN > _build/zh_CN.log 2>&1 & zh=$$!; \
	$(BIN)/jupyter-book build . -W -n --keep-going; en=$$?; \
	wait $$zh; zh=$$?; \
	if [ $$zh -ne 0 ]; then echo "== the Chinese edition failed:"; cat _build/zh_CN.log; \
	else echo "== the Chinese edition built too: _build/html/zh/ (log: _build/zh_CN.log)"; fi; \
	[ $$en -eq 0 ] && [ $$zh -eq 0 ] && rm -rf _build/html/zh && cp -r _build/zh_CN/_build/html _build/html/zh

# The Chinese edition: the same notebooks, outputs and equations, the prose from locales/zh_CN/.
book-zh: $(STAMP)
	$(BIN)/python tests/tools/build_edition.py zh_CN --into _build/html/zh

# One catalog per page (gettext_compact: false); -w 0 keeps each message on one line for review.
# The gettext build has its own output folder: its doctrees would make the HTML build refuse to start.
translations: $(STAMP)
	rm -rf _build/pot
	$(BIN)/jupyter-book build . --path-output _build/pot --builder custom --custom-builder gettext -W -n --keep-going
	$(BIN)/sphinx-intl update -p _build/pot/_build/gettext -l zh_CN -d locales -w 0 --no-obsolete -j 1

book: build-book
	@echo "Book built: open file://$(abspath _build/html/index.html) (中文版: _build/html/zh/index.html)"

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

# JupyterLab refuses to run as root unless told (containers, CI); an ordinary user needs no flag.
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

# The built book in headless Chromium (the OS package; installed here if missing), served from a
# local server, with every request off that server blocked: math typeset, images loaded, no console
# error, nothing wider than the page at 1280 and 400 px, solutions collapsed. Screenshots at 1280 px
# go to _build/screenshots/, the findings to _build/browser-report.json. Then what lab-test checks
# (both run; either failing fails the target).
CHROMIUM ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser))
browser-test: build-book chromium
	@status=0; \
	$(BIN)/python tests/browser/check_book.py --html _build/html || status=1; \
	$(BIN)/python tests/browser/check_lab.py || status=1; \
	exit $$status

# JupyterLab (jupyterlab-myst) renders an exercise and a collapsed solution: a DOM check in headless
# Chromium against a JupyterLab started on a free loopback port.
lab-test: $(STAMP) chromium
	$(BIN)/python tests/browser/check_lab.py

# The Chinese pages need a CJK font (without one Chromium draws empty boxes): checked on its own, since a
# machine may have Chromium and no such font.
chromium:
	@packages=""; \
	if [ -z "$(CHROMIUM)" ] && [ -z "$$CHROMIUM" ]; then packages="chromium fonts-liberation fonts-dejavu-core"; fi; \
	if ! fc-list :lang=zh-cn 2>/dev/null | grep -q .; then packages="$$packages fonts-noto-cjk"; fi; \
	if [ -n "$$packages" ]; then \
		echo "== installing from the OS packages:$$packages"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$packages; \
	fi

# The book first (fast failure on a warning), the tests last so their summary closes the log.
test: build-book unit notebooks

clean:
	rm -rf _build
