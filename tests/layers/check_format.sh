#!/usr/bin/env bash
# tests/layers/check_format.sh — fails when a C file of the repository is not formatted as
# .clang-format says (clang-format 14, Debian's `clang-format` package, installed by
# deploy/install-deps.sh). Fix a failure with: clang-format -i FILE...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "check_format: clang-format not found (deploy/install-deps.sh installs it)" >&2
    exit 1
fi
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    mapfile -t files < <(find common controller broker cli tests -name '*.c' -o -name '*.h')
fi
clang-format --dry-run --Werror "${files[@]}"
echo "check_format: ${#files[@]} files formatted as .clang-format says"
