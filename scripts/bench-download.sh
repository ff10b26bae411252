#!/usr/bin/env bash
# The download benchmark alone (and the file read, initiate and complete
# measured with it): the `requests` scenario of `just bench`, with its
# pgbench references, printed as the same one table. See docs/benchmarks.md.
#
#   scripts/bench-download.sh          # BENCH_* and COFFER__* variables as for scripts/bench/run.py
set -euo pipefail
BENCH_ONLY=requests exec "$(dirname "${BASH_SOURCE[0]}")/bench/run.py" "$@"
