# From One-Hot to GPT: `make lab` opens the course, `make test` checks all of it. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
NB ?= $(NOTEBOOKS)
STUDENT_DIR ?= student
LAB_ARGS ?=
LAB_DIR ?= notebooks
TORCH_VERSION ?= 2.13.0
# e.g. --index-url https://download.pytorch.org/whl/cpu where PyPI's torch would be a CUDA build
TORCH_PIP_ARGS ?=
# Same hash order in every run, so stored outputs never depend on it.
export PYTHONHASHSEED := 0
# `make execute` records the notebooks on this CPU's own numeric path; `make test` checks them on another one,
# PyTorch's kernels one level below this CPU's (AVX-512 -> AVX2, AVX2 -> no vector units): a printed number that
# depends on the CPU then fails here, not on a student's laptop. NUMERICS="..." picks another path (adding
# MKL_CBWR=COMPATIBLE also moves MKL's matrix products: stricter, and slower); NUMERICS= checks the native path.
NUMERICS ?= $$($(BIN)/python tools/numeric_spread.py --foreign)
RECORD_NUMERICS := env -u ATEN_CPU_CAPABILITY -u MKL_CBWR

.PHONY: setup lab lab-zh test unit student zh execute sync site clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: the CPU build. An unpinned torch would pull a CUDA build of several GB.
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION) $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install -q -e ".[lab,test,grader,site]"
	touch $@

setup: $(VENV)/.installed

# JupyterLab with the course's own config folder: custom.css and the shipped CJK font served from it, so that
# Chinese text renders in the browser even where the system has no CJK font.
LAB_CONFIG := $(VENV)/jupyter-config
FONT := course_lib/data/fonts/NotoSansCJKsc-Regular-subset.otf
$(LAB_CONFIG)/custom/custom.css: tools/lab/custom.css $(FONT)
	mkdir -p $(LAB_CONFIG)/custom
	cp $(FONT) $(LAB_CONFIG)/custom/
	cp tools/lab/custom.css $@

lab: setup $(LAB_CONFIG)/custom/custom.css
	JUPYTER_CONFIG_DIR=$(abspath $(LAB_CONFIG)) $(BIN)/jupyter lab --LabApp.custom_css=True --notebook-dir=$(LAB_DIR) \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Unit tests, every master notebook under strict nbval on the foreign numeric path, the student edition:
# two workers, one thread each, the longest chapters first (conftest.py).
test: setup
	env $(NUMERICS) $(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder tests $(NOTEBOOKS) \
		--nbval --nbval-current-env --nbval-cell-timeout=900

unit: setup
	$(BIN)/python -m pytest -n 2 tests

student: setup
	$(BIN)/python -m course_lib.editions student notebooks $(STUDENT_DIR) $(if $(FORCE),--force)

execute: setup
	$(RECORD_NUMERICS) $(BIN)/python -m course_lib.editions execute $(NB)

# The Chinese edition (中文版), generated from the masters and translations/zh/: zh/ (with the masters' outputs)
# and its student edition student-zh/. `python -m course_lib.translations check` lists what needs translating.
zh: setup
	$(BIN)/python -m course_lib.translations build zh --student student-zh

# The Chinese edition in JupyterLab: the student edition student-zh/ (built by `make zh`).
lab-zh: zh
	$(MAKE) lab LAB_DIR=student-zh

# The course as a website, from the masters and their stored outputs: build/site/index.html (tools/build_site.py).
site: setup
	$(BIN)/python tools/build_site.py build/site

sync: setup
	$(BIN)/python -m course_lib.editions sync $(NB)

clean:
	rm -rf $(VENV) $(STUDENT_DIR) zh student-zh build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -prune -exec rm -rf {} +
