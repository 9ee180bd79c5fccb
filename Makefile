# The two commands of the README: `make demo` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench accuracy bench-deps bench-throughput bench-scale bench-profile bench-browser soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pricewatch demo

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pricewatch tests bench migrations vulture_whitelist.py
	$(BIN)/mypy
	$(BIN)/vulture

BENCH_STAMP := $(VENV)/.bench-installed

# Scrapy, BeautifulSoup and py-spy are the bench's contenders and tools, not pricewatch's deps.
$(BENCH_STAMP): $(STAMP) bench/requirements.txt
	$(BIN)/pip install -q -r bench/requirements.txt
	touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)

bench: accuracy bench-throughput

accuracy: $(STAMP)
	$(BIN)/python bench/accuracy.py

bench-throughput: $(BENCH_STAMP)
	$(BIN)/python -m bench.throughput

bench-scale: $(BENCH_STAMP)
	$(BIN)/python -m bench.scale

bench-profile: $(BENCH_STAMP)
	$(BIN)/python -m bench.profile

# The browser fetcher next to the HTTP one on the same 200 pages (needs chromium).
bench-browser: $(STAMP)
	$(BIN)/python -m bench.browser

# Minutes against ten hostile shops, a database cut, a reload and a SIGTERM (PostgreSQL needed).
soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache demo-data
