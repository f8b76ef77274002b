# Set-up and everyday tasks. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-backends test-fast lint fuzz bench regenerate clean

# keras-hub (tests/frontends/test_keras_hub.py builds its backbones) is installed without its
# dependencies: it requires tensorflow-text, which pins the full tensorflow beside tensorflow-cpu;
# the `hub` extra holds the dependencies it does need.
KERAS_HUB := keras-hub==0.32.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[tf,dev,hub,viewers]"
	$(BIN)/pip install --quiet --no-deps "$(KERAS_HUB)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/convplan analyze examples/seed_cnn.yaml
	$(BIN)/convplan analyze examples/seed_cnn.yaml --input-size 56x56 --format json > /dev/null
	d=$$(mktemp -d) && $(BIN)/convplan generate examples/seed_cnn.yaml -o $$d/project && \
	  $(BIN)/python scripts/train_digits_demo.py --project $$d/project --epochs 3 --work $$d && \
	  rm -rf $$d
	@echo "demo: ok"

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -q -n 2 --dist loadgroup \
	  --ignore=tests/frontends/test_torch_zoo.py

# The generated projects' tests on the PyTorch backend (TensorFlow and JAX run in `make test`).
# TORCH_PIP_ARGS passes extra pip arguments (another index, where one is reachable); torchvision from
# PyPI needs the CUDA build of its own torch, which is why the pair below is the CUDA one.
# torch 2.14.1 + torchvision 0.29.1 (CUDA build, about 5.5 GB with the NVIDIA libraries) took
# 5 min 25 s to install here on the shared 2-core machine. The torchvision zoo (8 models
# exported to ONNX once each, compared at two sizes) runs here only, not in `make test`.
TORCH_TESTS := tests/frontends/test_torch_zoo.py tests/explore/test_contracts_runtime.py \
	tests/checks/test_portability_rules.py
TORCH_STAMP := $(VENV)/.installed-torch
$(TORCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[torch]" $(TORCH_PIP_ARGS)
	touch $(TORCH_STAMP)

test-backends: $(TORCH_STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -q tests/codegen/test_generated.py -k torch
	TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -q $(TORCH_TESTS)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not tf"

lint: $(STAMP)
	$(BIN)/ruff check convplan tests benchmarks
	$(BIN)/mypy  # strict on convplan/ir and convplan/analysis ([tool.mypy] in pyproject.toml)

# 10,000 random networks through convplan and TensorFlow (about 15 min on 2 cores); mismatches
# are shrunk and saved under /tmp/convplan-fuzz. SEED=1 make fuzz for another run.
fuzz: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python scripts/fuzz.py --count 10000 --seed $(or $(SEED),0)

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python benchmarks/bench_analyze.py
	$(BIN)/python benchmarks/bench_check.py
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python benchmarks/bench_sweep.py

regenerate: $(STAMP)
	$(BIN)/python scripts/regenerate.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
