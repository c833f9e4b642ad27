# spikeport set-up. `make demo` and `make test` install the pinned stack into .venv on first use.
# The install order and flags are explained in docs/install.md; versions are pinned in requirements/constraints.txt.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
PINS := -c requirements/constraints.txt
STAMP := $(VENV)/.spikeport-installed
OUT ?= runs/demo

.PHONY: install demo test test-slow test-all lint docs clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/'

install: $(STAMP)  ## create .venv with the pinned stack and spikeport (editable)

$(STAMP): pyproject.toml requirements/constraints.txt Makefile
	@start=$$(date +%s); set -e; \
	test -x $(PY) || $(PYTHON) -m venv $(VENV); \
	echo "[install] torch 2.13.0 (CPU wheel) first, so nothing pulls a CUDA build"; \
	$(PIP) install -q $(PINS) torch==2.13.0; \
	echo "[install] scientific stack with numpy<2"; \
	$(PIP) install -q $(PINS) --only-binary=scipy "numpy<2" "scipy>=1.10.1,<1.16" \
	  "asteval>=0.9.31,<0.10" "networkx<=2.8.7" "scikit-learn>=1.5" nir nirtorch h5py mne onnx onnxruntime \
	  matplotlib tqdm pytest hypothesis ruff import-linter build "setuptools>=64" "setuptools_scm>=8" wheel; \
	echo "[install] lava-nc 0.10.0 (declares Python<3.11; spikeport carries the 3.11 fix)"; \
	$(PIP) install -q $(PINS) --no-deps --ignore-requires-python lava-nc==0.10.0; \
	echo "[install] norse 1.1.0 from its sdist, without torchvision"; \
	$(PIP) install -q $(PINS) --no-deps --no-build-isolation norse==1.1.0; \
	echo "[install] snntorch 1.0.0 and sinabs 3.1.3 without dependencies (their live NIR exports are tested)"; \
	$(PIP) install -q $(PINS) --no-deps snntorch==1.0.0 sinabs==3.1.3 pbr; \
	echo "[install] data readers (pynwb, edfio), EEGNet (braindecode 0.8.1: 1.x imports torchaudio) and test"; \
	echo "          cross-checks (neurobench metrics, lava-dl netx), the last three without their declared"; \
	echo "          torchaudio/torchvision, which have no build for torch 2.13 and are not needed"; \
	$(PIP) install -q $(PINS) pynwb edfio docstring-inheritance einops skorch torchinfo; \
	$(PIP) install -q $(PINS) --no-deps braindecode==0.8.1; \
	$(PIP) install -q $(PINS) --no-deps neurobench==2.3.0; \
	$(PIP) install -q $(PINS) --no-deps --ignore-requires-python lava-dl==0.6.0; \
	echo "[install] documentation site (mkdocs-material, mkdocstrings, jupytext for the tutorials)"; \
	$(PIP) install -q $(PINS) mkdocs-material "mkdocstrings[python]" jupytext; \
	echo "[install] spikeport (editable)"; \
	$(PIP) install -q --no-deps --no-build-isolation -e .; \
	touch $(STAMP); \
	echo "[install] done in $$(( $$(date +%s) - start )) s"

demo: install  ## train, export, quantize, simulate (reference + Lava), validate and cost the default model
	$(VENV)/bin/spikeport demo --out $(OUT)

test: install  ## run the default test suite (slow tests excluded)
	$(PY) -m pytest -q

test-slow: install  ## run only the slow tests (the 1000-case Lava sweep, the wheel build)
	$(PY) -m pytest -q -m slow

test-all: install  ## run every test, slow end-to-end sweeps included
	$(PY) -m pytest -q -m "slow or not slow"

lint: install  ## ruff
	$(VENV)/bin/ruff check .

docs: install  ## build the documentation site into site/ (mkdocs --strict: any warning fails)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:  ## remove the virtual environment and build outputs
	rm -rf $(VENV) build dist *.egg-info runs site
