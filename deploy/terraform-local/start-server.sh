#!/bin/sh
# Starts one detached `latency serve` for the row and records it in $DIR: pid, url
# (read from the line the server prints once bound), stdout, stderr. Also appends
# "ROW PID" to $RUN_DIR/pids.log, which is never deleted.
set -eu
mkdir -p "$DIR"
store="memory://"
if [ -n "$COUNTER_START" ]; then
    printf '%s\n' "$COUNTER_START" >"$DIR/counter"
    store="file://$DIR/counter"
fi
# Created before the server starts, so that the loop below can read them at once.
: >"$DIR/stdout"
: >"$DIR/stderr"
# setsid: its own session, so that nothing sent to Terraform's process group reaches it;
# output to files, so that Terraform does not wait for a pipe the server holds open.
setsid "$LATENCY_BIN" serve --listen 127.0.0.1:0 --store "$store" \
    >"$DIR/stdout" 2>"$DIR/stderr" </dev/null &
pid=$!
echo "$pid" >"$DIR/pid"
echo "$ROW $pid" >>"$RUN_DIR/pids.log"
# A resource whose create fails is tainted, and Terraform runs no destroy-time provisioner
# for a tainted resource: so a failed start stops its own process here.
started=no
trap 'if [ "$started" = no ]; then kill -KILL "$pid" 2>/dev/null || true; fi' EXIT
# Bounded: 600 looks 0.05 s apart (30 s) for the address the server prints.
i=0
while [ "$i" -lt 600 ]; do
    line=$(sed -n 's/^listening on //p' "$DIR/stdout")
    if [ -n "$line" ]; then
        echo "$line" >"$DIR/url"
        started=yes
        exit 0
    fi
    # Gone, or a zombie (this container's init may not reap it): it has exited.
    if ! kill -0 "$pid" 2>/dev/null || grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        echo "latency serve exited before binding: $(cat "$DIR/stderr")" >&2
        exit 1
    fi
    i=$((i + 1))
    sleep 0.05
done
echo "latency serve printed no address in 30 s (pid $pid, logs in $DIR)" >&2
exit 1
