#!/usr/bin/env bash
# Measures `cairn serve` and, when given, another S3 server side by side
# with s3load (../shared/bench/s3load: the stock aws-sdk-go-v2 client in its
# own process), the workloads of the performance issue, alternating servers,
# each run on a fresh data directory. Prints one line per server and
# workload with the client's RESULT, the server's user and system CPU
# seconds, and its peak RSS; the README's Performance table comes from it.
#
#   S3LOAD=/tmp/s3load OTHER=/tmp/minio PAIRS=3 scripts/side-by-side.sh ./cairn
#
# OTHER is a MinIO-compatible server binary (`server DIR --address`, root
# credentials from MINIO_ROOT_USER/PASSWORD); without it only Cairn runs.
# The files workloads need `gen-backup-generations $GEN /usr/local/go` first.
set -euo pipefail

cairn=${1:?usage: side-by-side.sh CAIRN-BINARY}
s3load=${S3LOAD:-/tmp/s3load}
other=${OTHER:-}
pairs=${PAIRS:-3}
gen=${GEN:-/tmp/genC}
port=${PORT:-9320}
workloads=${WORKLOADS:-put4 get4 put1 small gen1 gen25}

run_server() { # name binary -> runs every workload on a fresh server
	local name=$1 bin=$2 dir pid ak sk
	dir=$(mktemp -d)
	if [ "$name" = cairn ]; then
		"$bin" serve --data "$dir/data" --listen "127.0.0.1:$port" --secure-listen off >"$dir/out" 2>"$dir/err" &
		pid=$!
		for _ in $(seq 100); do grep -q AWS_SECRET_ACCESS_KEY "$dir/out" 2>/dev/null && break; sleep 0.1; done
		ak=$(grep -o 'AWS_ACCESS_KEY_ID=[^ ]*' "$dir/out" | head -1 | cut -d= -f2)
		sk=$(grep -o 'AWS_SECRET_ACCESS_KEY=[^ ]*' "$dir/out" | head -1 | cut -d= -f2)
	else
		ak=sidebyside sk=sidebyside-secret
		MINIO_ROOT_USER=$ak MINIO_ROOT_PASSWORD=$sk "$bin" server "$dir/data" \
			--address "127.0.0.1:$port" --console-address "127.0.0.1:$((port + 1))" >"$dir/out" 2>&1 &
		pid=$!
		for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/minio/health/ready" && break; sleep 0.2; done
	fi
	local a=(--endpoint "http://127.0.0.1:$port" --access-key "$ak" --secret-key "$sk")
	cpu() { awk '{print $14, $15}' "/proc/$pid/stat"; }
	for w in $workloads; do
		local args
		case $w in
		put4) args=(put "${a[@]}" --bucket rr1 --prefix p4/ --streams 4 --count 16 --size 64MiB) ;;
		get4) args=(get "${a[@]}" --bucket rr1 --prefix p4/ --streams 4) ;;
		put1) args=(put "${a[@]}" --bucket rr1 --prefix p1/ --streams 1 --count 8 --size 64MiB) ;;
		small) args=(small "${a[@]}" --bucket rr1 --prefix s/ --streams 4 --count 2000) ;;
		gen1) args=(files "${a[@]}" --bucket gg1 --prefix g/ --streams 1 "$gen/gen1.tar") ;;
		gen25) args=(files "${a[@]}" --bucket gg1 --prefix g/ --streams 1 "$gen/gen2.tar" "$gen/gen3.tar" "$gen/gen4.tar" "$gen/gen5.tar") ;;
		*) echo "unknown workload $w" >&2; exit 2 ;;
		esac
		local c0 c1 result
		c0=($(cpu))
		result=$("$s3load" "${args[@]}" 2>&1 | grep RESULT || echo "RESULT workload=$w failed")
		c1=($(cpu))
		printf '%s %s usr=%.2f sys=%.2f rss=%dMB\n' "$name" "${result#RESULT }" \
			"$(echo "(${c1[0]} - ${c0[0]}) / 100" | bc -l)" "$(echo "(${c1[1]} - ${c0[1]}) / 100" | bc -l)" \
			"$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	rm -rf "$dir"
}

for _ in $(seq "$pairs"); do
	if [ -n "$other" ]; then
		sleep 3 # let the previous run's freed page cache settle
		run_server other "$other"
	fi
	sleep 3
	run_server cairn "$cairn"
done
