# One way to do each thing; the README and .ci/run call these targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv index eval followups heldout checker-pairs train-checker calibrate bench lint screenshots clean

run: $(STAMP)  ## set everything up and start the web chat
	$(BIN)/rag serve

test: $(STAMP)  ## set everything up and run the whole test suite (two workers: each test file runs whole in one)
	$(BIN)/python -m pytest -n 2 --dist loadfile

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: anything else would pull a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	# The packaged model exported to ONNX once (into ~/.cache/rag, or $$RAG_CACHE_DIR): questions then need no torch.
	$(BIN)/python -m rag.embed.onnx_export
	touch $(STAMP)

venv: $(STAMP)

index: $(STAMP)  ## build (or rebuild) the default index from seeds/
	$(BIN)/rag build

eval: $(STAMP)  ## held-out report over the development gold sets, with ablations, the chart and deltas against docs/eval.json
	$(BIN)/rag eval tests/gold --seeds tests/gold/docs --index .rag-cache/dev --ablations \
		--chart docs/abstention-tradeoff.png --compare docs/eval.json

followups: $(STAMP)  ## follow-up questions answered with their conversation and alone: development and two held-out sets
	$(BIN)/rag followups tests/gold/followups/conversations.jsonl --seeds tests/gold/docs --index .rag-cache/dev
	$(BIN)/rag followups tests/gold/followups-heldout/conversations.jsonl \
		--seeds tests/gold/followups-heldout/docs --index .rag-cache/followups-heldout
	$(BIN)/rag followups tests/gold/followups-heldout2/conversations.jsonl \
		--seeds tests/gold/followups-heldout2/docs --index .rag-cache/followups-heldout2

heldout: $(STAMP)  ## the GPL-3 and Apache-2.0 licences and two FAQs, kept out of every fit, scored as shipped
	mkdir -p .rag-cache/heldout-docs
	cp /usr/share/common-licenses/GPL-3 .rag-cache/heldout-docs/gpl-3.txt
	cp /usr/share/common-licenses/Apache-2.0 .rag-cache/heldout-docs/apache-2.0.txt
	$(BIN)/rag eval tests/heldout --seeds .rag-cache/heldout-docs --index .rag-cache/heldout --shipped --ablations
	$(BIN)/rag eval tests/faq --seeds tests/faq/docs --index .rag-cache/faq --shipped --ablations

checker-pairs: $(STAMP)  ## label the answer checker's pairs from the development gold sets (rag/training/data/gold_pairs.jsonl)
	$(BIN)/python -m rag.training.pairs --index .rag-cache/dev

train-checker: $(STAMP)  ## train the answer checker's folds and shipped weights from the recorded pairs (rag/checker/weights/)
	$(BIN)/python -m rag.training.run

calibrate: $(STAMP)  ## refit rag/search/params.json on every development gold set
	$(BIN)/rag calibrate

bench: $(STAMP)
	$(BIN)/python bench/bench.py

screenshots: $(STAMP)  ## redraw docs/workspace-*.png and docs/viewer-*.png from the browser tests (a plain test run writes them to artifacts/)
	RAG_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest tests/ui/test_browser_workspace.py tests/ui/test_viewer_browser.py

lint: $(STAMP)
	$(BIN)/ruff check rag ui tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .rag-cache
	find index -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
