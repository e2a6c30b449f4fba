# The two commands of the README: `make run` and `make test`. Both set everything up first.
.PHONY: setup run test lint eval-nlu eval-kb eval-hot eval-replies bench

PY := .venv/bin/python
DATA ?= tests/data/nlu_heldout.jsonl

setup:
	@bash scripts/setup.sh

run: setup
	@$(PY) -m hotline run

test: setup
	@bash scripts/test.sh

lint: setup
	@.venv/bin/ruff check .

eval-nlu: setup
	@$(PY) -m hotline nlu eval $(DATA)

eval-kb: setup
	@$(PY) -m hotline kb eval $(or $(KB_DATA),tests/data/kb_questions.jsonl)

eval-hot: setup
	@$(PY) -m hotline hot eval

eval-replies: setup
	@$(PY) -m hotline replies eval
