"""The loop a Python user writes, for spec/bench.lua: urllib with its HTTP
Digest handler, and json, a page at a time.

    python3 spec/bench/urllib_list.py BASE_URL GROUP NAME

MONGODB_ATLAS_PUBLIC_API_KEY and MONGODB_ATLAS_PRIVATE_API_KEY from the
environment.  Prints the line spec/bench/tally.lua prints."""
import json
import os
import sys
import time
import urllib.request

base, group, name = sys.argv[1:4]

t0 = time.process_time()
passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
passwords.add_password(None, base, os.environ["MONGODB_ATLAS_PUBLIC_API_KEY"],
                       os.environ["MONGODB_ATLAS_PRIVATE_API_KEY"])
opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))
url = f"{base}/api/atlas/v2/groups/{group}/serverless/{name}/backup/restoreJobs"
jobs = []
page = 1
while True:
    request = urllib.request.Request(f"{url}?pageNum={page}&itemsPerPage=500",
                                     headers={"Accept": "application/vnd.atlas.2023-01-01+json"})
    with opener.open(request, timeout=60) as response:
        doc = json.load(response)
    jobs.extend(doc["results"])
    if not any(link.get("rel") == "next" for link in doc.get("links", [])):
        break
    page += 1
cpu = time.process_time() - t0

bad = 0
prefix = jobs[0]["id"][:8] if jobs else "-"
for i, job in enumerate(jobs, 1):
    if job.get("id") != f"{prefix}{i:016x}":
        bad += 1
print(f"jobs={len(jobs)} bad={bad} prefix={prefix} cpu={cpu:.6f}")
