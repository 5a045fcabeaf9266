# The two commands of the README. Both install what is missing first.
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: run test site release bench

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

## One self-contained release binary (it embeds the site): $(CARGO_TARGET_DIR)/release/ward
release:
	scripts/setup.sh
	scripts/build-site.sh --release
	cargo build --release -p server --bin ward

## Benchmarks (release build, ratios to baselines measured in the same run); writes docs/benchmarks.md.
## `make bench ARGS=--postgres` runs them on PostgreSQL.
bench:
	scripts/bench.sh $(ARGS)
