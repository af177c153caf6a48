# On a fresh clone `make demo` and `make test` are all a newcomer needs: each target
# creates .venv and installs the project when it is missing or pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint clean i18n

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chatshop demo

test: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	mkdir -p bench/results
	$(BIN)/python bench/search.py --products 100000 | tee bench/results/search-100k.txt
	$(BIN)/python bench/search.py --products 1000000 | tee bench/results/search-1m.txt
	$(BIN)/python bench/checkout.py --backend sqlite | tee bench/results/checkout-sqlite.txt
	$(BIN)/python bench/checkout.py --backend postgresql | tee bench/results/checkout-postgresql.txt
	$(BIN)/python bench/broadcast.py --messages 3000 | tee bench/results/broadcast.txt
	$(BIN)/python bench/long_reads.py | tee bench/results/long-reads.txt
	$(BIN)/python bench/throughput.py --row-echo | tee bench/results/throughput.txt
	# A long run: what grows with time (caches, the collector's pauses) shows only after a while.
	$(BIN)/python bench/throughput.py --updates 20000 | tee bench/results/throughput-long.txt

# Extract the texts marked with t("...") and merge them into the French and Polish catalogs
# (created when missing); then translate the new entries in bot/locales/*/LC_MESSAGES/messages.po.
LANGUAGES := fr pl
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k t --no-default-keywords --sort-by-file \
		--project chatshop -o bot/locales/messages.pot bot admin_bot
	for lang in $(LANGUAGES); do \
		test -f bot/locales/$$lang/LC_MESSAGES/messages.po || \
			$(BIN)/pybabel init -i bot/locales/messages.pot -d bot/locales -D messages -l $$lang; \
	done
	$(BIN)/pybabel update -i bot/locales/messages.pot -d bot/locales -D messages \
		--no-fuzzy-matching --ignore-obsolete

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/mypy --strict bot admin_bot

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
