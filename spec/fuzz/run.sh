#!/usr/bin/env bash
# Builds the libFuzzer harness for csrc/json.c and runs a bounded campaign.
# Exits non-zero on any crash, sanitizer report, timeout or leak.
#   FUZZ_SECONDS (60)  total run time
#   FUZZ_MAX_LEN (65536) largest generated input
#   FUZZ_EXTRA_SEEDS   directory of more *.json seeds, used if it exists
#   CLANG (clang), LUA_INCDIR (/usr/include/lua5.4), LUA_LIB (-llua5.4)
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-65536}
CLANG=${CLANG:-clang}
LUA_INCDIR=${LUA_INCDIR:-/usr/include/lua5.4}
LUA_LIB=${LUA_LIB:--llua5.4}
OUT=build/fuzz
CORPUS=spec/fuzz/corpus
FUZZ_EXTRA_SEEDS=${FUZZ_EXTRA_SEEDS:-/work/shared/fixtures/atlas}

mkdir -p "$OUT" "$CORPUS"

"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -I"$LUA_INCDIR" -Icsrc \
  -o "$OUT/fuzz_decode" spec/fuzz/fuzz_decode.c csrc/json.c "$LUA_LIB" -lm

# Seed corpus: fixture bodies plus small inputs aimed at each grammar corner.
# Seeds are named by content hash, like libFuzzer's own, so reruns add nothing twice.
seed() {
  local name
  name=$(printf '%s' "$1" | sha1sum | cut -c1-40)
  printf '%s' "$1" > "$CORPUS/$name"
}
for f in spec/fixtures/*.json "$FUZZ_EXTRA_SEEDS"/*.json; do
  [ -f "$f" ] || continue
  name=$(sha1sum < "$f" | cut -c1-40)
  cp "$f" "$CORPUS/$name"
done
seed '{"a":[1,-2.5e+3,1.1991456e+09,9223372036854775808,true,false,null,{},[]],"a":null}'
seed '"esc \" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é 😀"'
seed '[0,-0,1.0,11991456E2,9007199254740993,-9223372036854775808,1e400,1e-400,0.1]'
seed ' [ { "k" : [ [ ] , { } ] } ] '
seed 'null'
# Deeper than the decoder's on-stack frames (fuzzed again with a larger max_depth).
seed "$(printf '%.0s[{"k":' {1..60})1$(printf '%.0s}]' {1..60})"
# More significant digits than are handed to strtod.
seed "[0.1$(printf '%.0s1234567890' {1..90})e-5,-$(printf '%.0s9' {1..900})]"

set +e
"$OUT/fuzz_decode" "$CORPUS" \
  -dict=spec/fuzz/json.dict \
  -max_total_time="$FUZZ_SECONDS" \
  -max_len="$FUZZ_MAX_LEN" \
  -rss_limit_mb=2048 \
  -timeout=10 \
  -print_final_stats=1 \
  -artifact_prefix="$OUT/"
status=$?
set -e
if [ "$status" -ne 0 ]; then
  echo "fuzz_decode: failure (exit $status); reproducer in $OUT/ (run: $OUT/fuzz_decode <file>)" >&2
  exit "$status"
fi
echo "fuzz_decode: no crash in ${FUZZ_SECONDS}s"
