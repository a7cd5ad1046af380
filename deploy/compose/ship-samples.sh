#!/bin/sh
# The demo shipper of compose.yaml: one `mpwatch ship` per host folder under /samples (a folder is one
# site system, its name the source host), all with /etc/mpwatch/shipper.toml. The n-th host (in name
# order, from 0) serves /metrics on port 9108 + n. SIGTERM stops every shipper cleanly (each sends
# what it read and saves its checkpoint under /var/lib/mpwatch/ship/HOST).
set -eu
port=9108
pids=""
for dir in /samples/*/; do
    host=$(basename "$dir")
    mpwatch ship --config /etc/mpwatch/shipper.toml --host "$host" --path "${dir}**/*.log" \
        --path "${dir}**/*.lo_" --state-dir "/var/lib/mpwatch/ship/$host" --metrics-port "$port" &
    pids="$pids $!"
    echo "shipping $dir as $host, metrics on port $port"
    port=$((port + 1))
done
trap 'kill -TERM $pids 2>/dev/null || true; wait' TERM INT
wait
