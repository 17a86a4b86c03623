#!/bin/sh
# The loop a shell user writes, for spec/bench.lua: curl --digest for each
# page, jq to print its jobs (one JSON object a line, on stdout) and to look
# for a next link.
#   sh spec/bench/curl_jq_list.sh BASE_URL GROUP NAME
# MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY from the environment.
set -eu
url="$1/api/atlas/v2/groups/$2/serverless/$3/backup/restoreJobs"
page=1
while :; do
  body=$(curl -sS --fail --max-time 60 --digest \
    -u "$MONGODB_ATLAS_PUBLIC_API_KEY:$MONGODB_ATLAS_PRIVATE_API_KEY" \
    -H 'Accept: application/vnd.atlas.2023-01-01+json' "$url?pageNum=$page&itemsPerPage=500")
  printf '%s' "$body" | jq -c '.results[]'
  printf '%s' "$body" | jq -e 'any(.links[]?; .rel == "next")' >/dev/null || break
  page=$((page + 1))
done
