# One way to do each thing; the README and .ci/run call these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv index eval calibrate bench lint clean

run: $(STAMP)  ## set everything up and start the web chat
	$(BIN)/rag serve

test: $(STAMP)  ## set everything up and run the whole test suite
	$(BIN)/python -m pytest

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: anything else would pull a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

index: $(STAMP)  ## build (or rebuild) the default index from seeds/
	$(BIN)/rag build

eval: $(STAMP)  ## gold-set report, with ablations, the trade-off chart and deltas against docs/eval.json
	$(BIN)/rag eval tests/gold/japan-nato-alignment.jsonl --ablations --chart docs/abstention-tradeoff.png \
		--compare docs/eval.json

calibrate: $(STAMP)  ## refit the abstention model on the gold set and cross-validate it (prints, changes nothing)
	$(BIN)/python bench/fit_abstention.py

bench: $(STAMP)
	$(BIN)/python bench/bench.py

lint: $(STAMP)
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) index/manifest.json index/passages-* index/vectors-* index/sentences-* index/bm25-*
