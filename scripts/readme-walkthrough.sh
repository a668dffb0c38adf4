#!/usr/bin/env bash
# Follows the README as a new user would, on one machine, from a fresh
# clone of this checkout: build, start, the aws snippet, the admin commands
# without --data, a storage group, secure connect beside the server, and a
# scrub once it is stopped. It uses the README's ports (9000, 9443, 9100),
# so nothing else may listen there. scripts/test.sh runs it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
T="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "readme walkthrough: $*" >&2; for f in "$T"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done; exit 1; }
waitfor() { # waitfor WHAT CMD...: until CMD succeeds, for 30 s
  local what="$1"; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
AWS=/usr/bin/aws
unset AWS_CA_BUNDLE AWS_PROFILE CAIRN_DATA CAIRN_ENDPOINT

git clone -q "$repo" "$T/cairn"
cd "$T/cairn"
# "Start the gateway", then "Using it" with a data directory and a group.
go build -o cairn ./cmd/cairn
mkdir -p "$T/ssd"
./cairn serve --data "$T/srv" --listen 127.0.0.1:9000 --group fast="$T/ssd" >"$T/serve.out" 2>"$T/serve.log" &
pids+=($!)
waitfor "the credentials snippet" grep -q "export AWS_ACCESS_KEY_ID" "$T/serve.out"
eval "$(grep 'export AWS_ACCESS_KEY_ID' "$T/serve.out")"
head -c 5000000 /dev/urandom >big.tar
$AWS --endpoint-url http://127.0.0.1:9000 s3 mb s3://backups >/dev/null || fail "aws s3 mb"
$AWS --endpoint-url http://127.0.0.1:9000 s3 cp big.tar s3://backups/ >/dev/null || fail "aws s3 cp"
$AWS --endpoint-url http://127.0.0.1:9000 s3api create-bucket --bucket fast-backups \
  --create-bucket-configuration LocationConstraint=fast >/dev/null || fail "create-bucket in the fast group"
# The admin commands as the README shows them: no --data.
./cairn admin stats >"$T/stats.log" 2>&1 || fail "cairn admin stats without --data"
grep -q backups "$T/stats.log" || fail "stats does not show the bucket"
grep -q fast-backups "$T/stats.log" || fail "stats does not show the fast bucket"
./cairn admin clean >"$T/clean.log" 2>&1 || fail "cairn admin clean without --data"

# "Storage groups, performance tiers, quotas and streams": a group added
# while the server runs, a bucket in it, the quota rules, the cleaner's
# schedule; and the event log.
mkdir -p "$T/nvme"
./cairn admin group add perf --path "$T/nvme" --performance --streams 8 >"$T/group.log" 2>&1 || fail "group add"
$AWS --endpoint-url http://127.0.0.1:9000 s3api create-bucket --bucket vm-images \
  --create-bucket-configuration LocationConstraint=perf >/dev/null || fail "create-bucket in an added group"
$AWS --endpoint-url http://127.0.0.1:9000 s3api get-bucket-location --bucket vm-images >"$T/loc.log" || fail "get-bucket-location"
grep -q perf "$T/loc.log" || fail "get-bucket-location does not name the group"
./cairn admin group ls >"$T/groups.log" 2>&1 || fail "group ls"
grep -q "perf (perf)" "$T/groups.log" || fail "group ls does not show the performance group"
if ./cairn admin group set perf --quota 1GiB >"$T/quota.log" 2>&1; then fail "a quota under the 100 GiB minimum was taken"; fi
grep -q "below the minimum" "$T/quota.log" || fail "the quota refusal does not say which rule"
if ./cairn admin group rm perf >"$T/rm.log" 2>&1; then fail "group rm of a group with a bucket"; fi
grep -q vm-images "$T/rm.log" || fail "group rm does not name the bucket"
./cairn admin clean status >"$T/cleanst.log" 2>&1 || fail "clean status"
./cairn admin events >"$T/events.log" 2>&1 || fail "admin events"

# Secure connect on the same machine: the client's default port is not 9000.
./cairn admin secure-connect issue laptop --data "$T/srv" --out laptop.pem >"$T/issue.log" 2>&1 || fail "secure-connect issue"
fp="$(grep -o 'SHA256:[0-9a-f]*' "$T/serve.out" | head -1)"
[ -n "$fp" ] || fail "serve printed no fingerprint"
./cairn connect --server 127.0.0.1:9443 --credential laptop.pem --fingerprint "$fp" >"$T/connect.out" 2>"$T/connect.log" &
pids+=($!)
waitfor "cairn connect" grep -q "Point the backup tool at http://127.0.0.1:9100" "$T/connect.out"
$AWS --endpoint-url http://127.0.0.1:9100 s3 cp s3://backups/big.tar back.tar >/dev/null || fail "a download through secure connect"
cmp -s big.tar back.tar || fail "the download through secure connect differs"

# Stopped, the server scrubs clean: every group, without --group.
for p in "${pids[@]}"; do kill "$p"; done
wait || true
pids=()
./cairn admin scrub --data "$T/srv" >"$T/scrub.log" 2>&1 || fail "scrub"
grep -q "group fast: ok" "$T/scrub.log" || fail "scrub skipped the fast group"
echo "readme walkthrough: ok"
