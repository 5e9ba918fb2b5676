#!/usr/bin/env bash
# Line and region coverage of what the fuzzers reach: builds the targets
# with clang's source-based coverage (no sanitizers) into build/fuzz-cov/,
# runs each once over a corpus (default: build/fuzz/<target>/corpus and the
# seeds; or CORPUS_ROOT/<target>/corpus) and prints llvm-cov's report for
# the files the target is about. Used for the figures in docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/fuzz-cov
make --no-print-directory FUZZ_BUILD=$out FUZZ_SAN="-fprofile-instr-generate -fcoverage-mapping" fuzz-build >/dev/null
declare -A files=(
  [config]="$(ls gateway/config/cfgtree*.c gateway/config/config_*.c | grep -v /config_edit | tr '\n' ' ')gateway/common/meaning.c"
  [uplink_command]="gateway/uplink/uplink_command.c"
  [api_parse]="gateway/web/api_parse.c"
  [ws_message]="gateway/web/ws_message.c"
  [mb_point]="plugins/modbus/mb_point.c"
)
for target in "${@:-config uplink_command api_parse ws_message mb_point}"; do
  for t in $target; do
    corpus=${CORPUS_ROOT:-build/fuzz}/$t/corpus
    rm -f "$out/$t"/*.profraw
    mkdir -p "$corpus"
    LLVM_PROFILE_FILE="$out/$t/%p.profraw" "$out/$t/fuzz" -runs=0 "$corpus" "tests/fuzz/$t/corpus" >/dev/null 2>&1
    llvm-profdata merge -sparse "$out/$t"/*.profraw -o "$out/$t/fuzz.profdata"
    echo "== $t ($(ls "$corpus" | wc -l) + $(ls "tests/fuzz/$t/corpus" | wc -l) inputs)"
    # shellcheck disable=SC2086
    llvm-cov report "$out/$t/fuzz" -instr-profile="$out/$t/fuzz.profdata" ${files[$t]} |
      sed -n '1p;3,$p'
  done
done
