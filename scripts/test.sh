#!/usr/bin/env bash
# Runs every test Cairn has. The real-client scenarios drive Debian's awscli,
# rclone and restic, so they are installed here when missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/aws ] || need+=(awscli)
command -v rclone >/dev/null || need+=(rclone)
command -v restic >/dev/null || need+=(restic)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing ${need[*]}: run 'sudo apt-get install ${need[*]}' first" >&2
    exit 1
  fi
fi

go vet ./...
go test -count=1 -timeout 25m ./...
# The race detector over the packages where requests meet: the chunk store
# (writers, readers, the cleaner), the gateway and the S3 layer. -short skips
# the crash and real-client scenarios, which the plain run above covered.
go test -count=1 -race -short -timeout 15m ./chunkstore/... ./gateway/... ./s3api/...
