# The two commands of the README. Each creates .venv and installs what it needs first.
# `make check` is the fast loop while editing: lint, types, and the tests that are neither slow nor
# browser tests; `make test` runs everything.
.PHONY: demo test check lint typecheck install

TEST_ENV = GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

demo:
	scripts/install.sh
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 .venv/bin/prefchat demo

test:
	scripts/install.sh test
	$(TEST_ENV) .venv/bin/python -m pytest -q -p no:cacheprovider

check: lint typecheck
	$(TEST_ENV) .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not browser"

lint:
	scripts/install.sh test
	.venv/bin/ruff check .

typecheck:
	scripts/install.sh test
	scripts/typecheck.sh

install:
	scripts/install.sh
