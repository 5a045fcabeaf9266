# The two commands of the README. Both install what is missing first.
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: run test site bench

## Build everything and run Ward on an embedded SQLite database (ward serve --dev).
run:
	scripts/setup.sh
	scripts/build-site.sh
	cargo run -p server --bin ward -- serve --dev

## Run every test: unit, integration on SQLite and PostgreSQL, Playwright.
test:
	scripts/test.sh

site:
	scripts/build-site.sh

## Benchmarks (release build, ratios to baselines measured in the same run); writes docs/benchmarks.md.
## `make bench ARGS=--postgres` runs them on PostgreSQL.
bench:
	scripts/bench.sh $(ARGS)
