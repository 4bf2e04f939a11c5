# Two commands do all set-up on a fresh Debian/Ubuntu machine:
#   make demo   installs everything, makes a small synthetic demo input and deblurs it
#   make test   installs everything and runs the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
DEBIAN_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-liberation2 fonts-dejavu-core \
	fonts-urw-base35 ttf-bitstream-vera
DEMO_STEP ?= 7

.PHONY: setup system-packages demo test clean

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c "import ensurepip" 2>/dev/null \
		|| missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

demo: setup
	$(PY) -m hdc.synthetic demo/data --layout train --steps $(DEMO_STEP) --per-font 2 --seed 2021
	$(PY) main.py demo/data/step$(DEMO_STEP)/Verdana/CAM02 demo/output $(DEMO_STEP)
	$(PY) main.py demo/data/step$(DEMO_STEP)/Times/CAM02 demo/output $(DEMO_STEP)
	$(PY) -m evaluation.evaluate demo/output demo/data/step$(DEMO_STEP) --output demo/scores
	@echo "demo: inputs in demo/data, deblurred PNGs in demo/output, scores in demo/scores"

test: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf demo .pytest_cache
