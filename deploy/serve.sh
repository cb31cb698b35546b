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

$PY manage.py qcluster &
worker=$!
.venv/bin/gunicorn --config deploy/gunicorn.conf.py &
web=$!

stop() { kill -TERM "$web" "$worker" 2>/dev/null || true; }
trap 'stop' INT TERM
set +e
wait -n "$web" "$worker"
status=$?
stop
wait
exit "$status"
