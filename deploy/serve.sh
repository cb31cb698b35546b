#!/usr/bin/env bash
# `make serve`: Daybrief's production processes on one machine, in the foreground.
# The web server (gunicorn, deploy/gunicorn.conf.py) and the task worker (qcluster) run
# side by side; if either exits, both stop. Configuration comes from the environment
# (see deploy/daybrief.env.example); DEBUG is off unless you turn it on.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f "${DAYBRIEF_ENV_FILE:-deploy/daybrief.env}" ]; then
  set -a; . "${DAYBRIEF_ENV_FILE:-deploy/daybrief.env}"; set +a
fi
export DEBUG="${DEBUG:-0}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-newsletter.settings}"
VAR_DIR="${DAYBRIEF_VAR_DIR:-var}"
# Gunicorn and qcluster both fork: their counters meet in one directory, emptied per start.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$VAR_DIR/prometheus}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

PY=.venv/bin/python
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput --verbosity 0
$PY manage.py check --deploy

# Each in its own session: Ctrl-C reaches this script only, which stops both in order
# (a SIGINT to every qcluster child at once can leave the cluster waiting for them).
setsid $PY manage.py qcluster &
worker=$!
setsid .venv/bin/gunicorn --config deploy/gunicorn.conf.py &
web=$!

stopping=0
stop() { kill -TERM "$web" "$worker" 2>/dev/null || true; }
trap 'stopping=1; stop' INT TERM
set +e
wait -n "$web" "$worker"
status=$?
stop
# Both get DAYBRIEF_STOP_SECONDS to finish in-flight work (a sending batch ends cleanly), then
# are killed with everything they started: a stop that hangs must not hold the terminal.
# (A killed send loses nothing: its leased deliveries go back or are marked uncertain.)
for _ in $(seq "$(( ${DAYBRIEF_STOP_SECONDS:-45} * 2 ))"); do
  kill -0 "$web" 2>/dev/null || kill -0 "$worker" 2>/dev/null || break
  sleep 0.5
done
kill -KILL -- "-$web" "-$worker" 2>/dev/null || true
wait
# Asked to stop (Ctrl-C, systemd, kill): a clean exit. Otherwise a child died: say how.
[ "$stopping" = 1 ] && exit 0
exit "$status"
