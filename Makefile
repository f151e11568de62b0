# The two commands of the README. Each creates .venv and installs what it needs first.
.PHONY: demo test install

demo:
	scripts/install.sh
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 .venv/bin/prefchat demo

test:
	scripts/install.sh test
	GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python -m pytest -q -p no:cacheprovider

install:
	scripts/install.sh
