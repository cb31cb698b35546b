"""Probes for load balancers and orchestrators.

/healthz says the process answers (restart it if not); /readyz says it can do its job,
database and broker reachable (send it no traffic if not). Neither touches a session,
so probes create no rows and need no cookie.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_ready(), "broker": broker_ready()}
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", **checks}
    return JsonResponse(body, status=200 if ready else 503)


def database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception:
        logger.exception("Readiness: the database is unreachable")
        return False


def broker_ready() -> bool:
    """True when the django-q2 broker answers: Redis PING, or the ORM broker's database."""
    redis_url = settings.Q_CLUSTER.get("redis")
    if not redis_url:
        return database_ready()
    try:
        # Short timeouts: a probe must answer before the load balancer gives up on it.
        client = redis.Redis.from_url(str(redis_url), socket_connect_timeout=2, socket_timeout=2)
        with client:
            return bool(client.ping())
    except redis.RedisError:
        logger.exception("Readiness: the task broker is unreachable")
        return False
