# The README's two commands are `make demo` and `make test`; each sets up what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NET ?= resnet50

.PHONY: setup demo test test-fast bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 first: an open range with nothing installed would pull the CUDA wheels.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	@command -v dot >/dev/null || { \
	  SUDO=$$(command -v sudo >/dev/null && [ "$$(id -u)" != 0 ] && echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }

# The main job on one zoo network (`make demo NET=googlenet` for another): check every
# spec, print the summary, write the PyTorch module and the diagram to out/, then run the
# written module on a random batch of two (eval mode: aux heads off).
FORWARD = import runpy, torch, cnndsl; \
  shape = cnndsl.build('zoo_specs/$(NET).cnn').input_shape; \
  net = runpy.run_path('out/$(NET).py')['Net']().eval(); \
  y = net(torch.randn(2, *shape)); \
  print('out/$(NET).py: Net()', 'x'.join(map(str, (2, *shape))), '->', 'x'.join(map(str, y.shape)))

demo: setup
	$(BIN)/cnndsl check zoo_specs/*.cnn
	$(BIN)/cnndsl summary zoo_specs/$(NET).cnn --depth 1
	@mkdir -p out
	$(BIN)/cnndsl summary zoo_specs/$(NET).cnn -o out/$(NET).txt
	$(BIN)/cnndsl compile zoo_specs/$(NET).cnn -o out/$(NET).py --class-name Net
	$(BIN)/cnndsl render zoo_specs/$(NET).cnn -o out/$(NET).svg
	$(BIN)/cnndsl render zoo_specs/$(NET).cnn -o out/$(NET).png
	$(BIN)/python -c "$(FORWARD)"

# The whole suite, with the full-size forward pass of every torchvision zoo network checked
# against torchvision's own outputs (about 4 minutes of the total on 2 cores).
test: setup
	$(BIN)/python -m pytest -n auto -q --slow

# The same without those forward passes, for a quick run while editing.
test-fast: setup
	$(BIN)/python -m pytest -n auto -q

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build out .pytest_cache
