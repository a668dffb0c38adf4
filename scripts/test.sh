#!/usr/bin/env bash
# Runs every test Cairn has. The real-client scenarios drive Debian's awscli,
# rclone, restic and s3cmd, and the Azure tier tests Azurite (npm, on Debian's
# nodejs), so they are installed here when missing (apt-get needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/aws ] || need+=(awscli)
command -v rclone >/dev/null || need+=(rclone)
command -v restic >/dev/null || need+=(restic)
[ -x /usr/bin/s3cmd ] || need+=(s3cmd) # conformance: TestS3cmdSignatureV2
install() { # apt-get install "$@", or say how
  if [ "$(id -u)" = 0 ]; then
    echo "installing $* (apt-get)"
    [ -n "${apt_updated:-}" ] || { apt-get update -qq; apt_updated=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $*: run 'sudo apt-get install $*' first" >&2
    exit 1
  fi
}
[ ${#need[@]} -eq 0 ] || install "${need[@]}"
# Apart: a node that did not come from Debian can make Debian's npm
# uninstallable, and then it is the one already there that serves.
command -v npm >/dev/null || install nodejs npm

# Azurite, the Azure Blob emulator, in a cache outside the checkout.
azurite_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cairn/azurite"
if [ ! -x "$azurite_dir/node_modules/.bin/azurite-blob" ]; then
  echo "installing azurite (npm) in $azurite_dir"
  mkdir -p "$azurite_dir"
  npm install --silent --no-audit --no-fund --prefix "$azurite_dir" azurite@3 >/dev/null
fi
export AZURITE="$azurite_dir/node_modules/.bin/azurite-blob"
# Here the Azure tests must run, not skip.
export CAIRN_REQUIRE_AZURITE=1
# The reference backup generations (1.3 GB, made once), shared by the
# packages whose tests use them.
export CAIRN_BACKUPGEN_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/cairn/backupgen"
mkdir -p "$CAIRN_BACKUPGEN_DIR"

go vet ./...
go test -count=1 -timeout 25m ./...
# The README, followed as a new user would (ports 9000, 9443 and 9100).
./scripts/readme-walkthrough.sh
# The race detector over the packages where requests meet: the chunk store
# (writers, readers, the cleaner), the gateway, the S3 layer and replication.
# -short skips the crash and real-client scenarios, which the plain run
# above covered.
go test -count=1 -race -short -timeout 15m ./chunkstore/... ./gateway/... ./s3api/... ./replicator/...
