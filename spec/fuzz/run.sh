#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs a bounded campaign on each:
#   fuzz_decode     csrc/json.c, the JSON decoder
#   fuzz_encode     csrc/encode.c, the JSON encoder, on what the decoder builds
#   fuzz_head       csrc/head.c, csrc/framing.c and csrc/luahead.c, the response
#                   head parser, the framing rules and the chunked-body checker
#   fuzz_challenge  csrc/challenge.c and core.parse_digest_challenges
# Exits non-zero on any crash, sanitizer report, timeout or leak.
#   FUZZ_SECONDS (60)    total run time, split evenly among the targets
#   FUZZ_MAX_LEN (65536) largest generated input
#   FUZZ_EXTRA_SEEDS     a directory of more *.json seeds for fuzz_decode
#                        (spec/fixtures/*.json are always used)
#   CLANG (clang), LUA_INCDIR (/usr/include/lua5.4), LUA_LIB (-llua5.4)
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-65536}
CLANG=${CLANG:-clang}
LUA_INCDIR=${LUA_INCDIR:-/usr/include/lua5.4}
LUA_LIB=${LUA_LIB:--llua5.4}
FUZZ_EXTRA_SEEDS=${FUZZ_EXTRA_SEEDS:-}
OUT=build/fuzz
TARGETS=(fuzz_decode fuzz_encode fuzz_head fuzz_challenge)
# The sources of atlasrestore.core, as the Makefile lists them (make fuzz passes them).
CORE_SRC=${CORE_SRC:?"CORE_SRC: run this through make fuzz"}

build() { # target, sources...
  local target=$1
  shift
  # shellcheck disable=SC2068 # the source lists are meant to split
  "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -I"$LUA_INCDIR" -Icsrc \
    -o "$OUT/$target" "spec/fuzz/$target.c" $@ "$LUA_LIB" -ldeflate -lm
}

# Seeds are named by content hash, like libFuzzer's own, so reruns add nothing twice.
seed() { # corpus, text
  local name
  name=$(printf '%s' "$2" | sha1sum | cut -c1-40)
  printf '%s' "$2" > "$1/$name"
}

mkdir -p "$OUT"
for target in "${TARGETS[@]}"; do mkdir -p "spec/fuzz/corpus/$target"; done
build fuzz_decode csrc/json.c
build fuzz_head csrc/head.c csrc/framing.c csrc/luahead.c
build fuzz_encode csrc/json.c csrc/encode.c
build fuzz_challenge $CORE_SRC

# fuzz_decode: fixture bodies plus small inputs aimed at each grammar corner.
CORPUS=spec/fuzz/corpus/fuzz_decode
for f in spec/fixtures/*.json ${FUZZ_EXTRA_SEEDS:+"$FUZZ_EXTRA_SEEDS"/*.json}; do
  [ -f "$f" ] || continue
  name=$(sha1sum < "$f" | cut -c1-40)
  cp "$f" "$CORPUS/$name"
done
seed "$CORPUS" '{"a":[1,-2.5e+3,1.1991456e+09,9223372036854775808,true,false,null,{},[]],"a":null}'
seed "$CORPUS" '"esc \" \\ \/ \b\f\n\r\t \u00e9 \ud83d\ude00 é 😀"'
seed "$CORPUS" '[0,-0,1.0,11991456E2,9007199254740993,-9223372036854775808,1e400,1e-400,0.1]'
seed "$CORPUS" ' [ { "k" : [ [ ] , { } ] } ] '
seed "$CORPUS" 'null'
# Deeper than the decoder's on-stack frames (fuzzed again with a larger max_depth).
seed "$CORPUS" "$(printf '%.0s[{"k":' {1..60})1$(printf '%.0s}]' {1..60})"
# More significant digits than are handed to strtod.
seed "$CORPUS" "[0.1$(printf '%.0s1234567890' {1..90})e-5,-$(printf '%.0s9' {1..900})]"

# fuzz_encode: the decoder's seeds, whose values it encodes.
cp -n spec/fuzz/corpus/fuzz_decode/* spec/fuzz/corpus/fuzz_encode/ 2>/dev/null || true

# fuzz_head: heads as libcurl collects them, interim responses, folds, repeats.
CORPUS=spec/fuzz/corpus/fuzz_head
seed "$CORPUS" $'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n'
seed "$CORPUS" $'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm="r", nonce="n"\r\nWww-Authenticate: Basic realm="r"\r\n\r\n'
seed "$CORPUS" $'HTTP/1.1 200 Connection established\r\n\r\nHTTP/2 503\r\nretry-after: 1\r\nX-A: 1\r\nx-a: 2\r\n'
seed "$CORPUS" $'HTTP/1.0 204\nX-Folded: a\r\n  b\r\n\tc\nX-Empty:\r\n\r\n'
seed "$CORPUS" $'HTTP/1.1 503 Service Unavailable\nContent-Length: 0\n\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n'
seed "$CORPUS" $'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 10, 10\r\n\r\n'
seed "$CORPUS" $'000000000000001a;name=value;q="a \\"b\\"" \r\n0123456789abcdefghijklmnop\r\n0\r\nTrailer: t\n\r\n'

# fuzz_challenge: what Atlas sends (spec/fixtures/README.md), RFC 7616's
# several challenges, other schemes around them; 0x1e separates header values.
CORPUS=spec/fuzz/corpus/fuzz_challenge
seed "$CORPUS" 'Digest realm="MMS Public API", domain="", nonce="OMj0aVEw3aGvJVQK/EfUTbExJV1vS5Y9", algorithm=MD5, qop="auth", stale=false'
seed "$CORPUS" $'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"\x1eDigest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
seed "$CORPUS" 'Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", Bearer abc+/==, Digest realm="a\\b", nonce=n1, userhash=true'

budget=$((FUZZ_SECONDS / ${#TARGETS[@]}))
[ "$budget" -ge 1 ] || budget=1
for target in "${TARGETS[@]}"; do
  dict=spec/fuzz/${target#fuzz_}.dict
  [ "$target" = fuzz_decode ] || [ "$target" = fuzz_encode ] && dict=spec/fuzz/json.dict
  set +e
  "$OUT/$target" "spec/fuzz/corpus/$target" \
    -dict="$dict" \
    -max_total_time="$budget" \
    -max_len="$FUZZ_MAX_LEN" \
    -rss_limit_mb=2048 \
    -timeout=10 \
    -print_final_stats=1 \
    -artifact_prefix="$OUT/$target-"
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    echo "$target: failure (exit $status); reproducer in $OUT/ (run: $OUT/$target <file>)" >&2
    exit "$status"
  fi
  echo "$target: no crash in ${budget}s"
done
