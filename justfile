# Coffer's everyday commands. `just` is optional: every recipe is a plain
# command (install just with `pip install rust-just` or `cargo install just`).

# Serve on the embedded defaults (SQLite + local disk + dev issuer in ./.coffer)
run *ARGS:
    cargo run -p coffer-server -- serve {{ARGS}}

# Every test, with the peers they need (SeaweedFS, OIDC issuer, clamd, PostgreSQL)
test *ARGS:
    scripts/test.sh {{ARGS}}

# Format, lints, dependency rule and licence policy
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    scripts/check-deps.sh
    cargo deny check licenses bans sources

fmt:
    cargo fmt --all

# Every whole-system benchmark, one table of ratios measured in the same run
# (starts its peers, installs wrk and oha); see docs/benchmarks.md
bench:
    scripts/bench/run.py

# Micro-benchmarks of the hot paths (criterion)
bench-micro *ARGS:
    cargo bench --workspace --bench hot_paths {{ARGS}}

# Start the test peers and print their environment, for running single tests
services:
    scripts/services/seaweedfs.sh start
    scripts/services/oidc-issuer.sh start
    scripts/services/clamd.sh start
    cat .test-services/*.env

services-stop:
    scripts/services/seaweedfs.sh stop
    scripts/services/oidc-issuer.sh stop
    scripts/services/clamd.sh stop

# What CI runs
ci:
    .ci/run
