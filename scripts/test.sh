#!/usr/bin/env bash
# The whole test suite: type check, lint (including the layering rule), then every test file.
# Node 20's test runner expands no globs and `--test test/` runs zero .ts files, so files are listed here.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci
bash scripts/setup-test-deps.sh
npx tsc --noEmit
npm run --silent build
npx eslint src test $(compgen -G "bench/*.ts" >/dev/null && echo bench)
mapfile -t files < <(find test -name '*.test.ts' | sort)
if [ ${#files[@]} -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --import tsx --test --test-concurrency=2 --test-timeout=900000 "${files[@]}"
