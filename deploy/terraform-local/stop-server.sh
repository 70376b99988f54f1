#!/bin/sh
# Stops the row's server (SIGTERM, then SIGKILL after 10 s) and removes $DIR; fails,
# leaving both, while the file $REFUSE exists.
set -eu
if [ -e "$REFUSE" ]; then
    echo "refusing to destroy: $REFUSE exists" >&2
    exit 1
fi
if [ -f "$DIR/pid" ]; then
    pid=$(cat "$DIR/pid")
    # Only a process that is still our server: a recycled pid is left alone.
    if grep -q serve "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do
            # A zombie (not reaped by this container's init) has stopped.
            if grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then break; fi
            i=$((i + 1))
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
fi
rm -rf "$DIR"
