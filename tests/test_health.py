"""/healthz and /readyz: what a load balancer probes."""

import json
import logging
import sys
from unittest import mock

from django.db.utils import OperationalError
from django.test import SimpleTestCase, TestCase, override_settings

from newsletter.jsonlog import JsonFormatter


class HealthzTests(TestCase):
    def test_healthz_answers_ok_without_touching_the_database(self) -> None:
        with self.assertNumQueries(0):
            response = self.client.get("/healthz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok"})

    def test_healthz_is_never_cached(self) -> None:
        response = self.client.get("/healthz")
        self.assertIn("no-cache", response["Cache-Control"])

    def test_healthz_sets_no_cookie(self) -> None:
        self.assertEqual(self.client.get("/healthz").cookies, {})


class ReadyzTests(TestCase):
    @override_settings(Q_CLUSTER={"name": "t", "orm": "default", "sync": True})
    def test_readyz_is_ok_when_the_database_answers_on_the_orm_broker(self) -> None:
        response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"status": "ok", "database": True, "broker": True})

    @override_settings(Q_CLUSTER={"name": "t", "orm": "default", "sync": True})
    def test_readyz_is_503_when_the_database_is_down(self) -> None:
        failing = mock.patch(
            "django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError
        )
        with failing, self.assertLogs("newsletter.health", "ERROR"):
            response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["database"], False)

    @override_settings(Q_CLUSTER={"name": "t", "redis": "redis://127.0.0.1:1/0", "sync": True})
    def test_readyz_is_503_when_redis_refuses_connections(self) -> None:
        # Port 1 on loopback refuses at once: no network beyond this machine.
        with self.assertLogs("newsletter.health", "ERROR"):
            response = self.client.get("/readyz")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(
            response.json(), {"status": "unavailable", "database": True, "broker": False}
        )

    def test_readyz_refuses_posts(self) -> None:
        self.assertEqual(self.client.post("/readyz").status_code, 405)


class JsonLogTests(SimpleTestCase):
    def test_a_log_line_is_one_json_object_with_extras_and_the_exception(self) -> None:
        record = logging.makeLogRecord(
            {
                "name": "topics.fetching",
                "levelname": "WARNING",
                "msg": "Source %s failed",
                "args": (7,),
                "source_id": 7,
            }
        )
        try:
            raise ValueError("boom")
        except ValueError:
            record.exc_info = sys.exc_info()
        entry = json.loads(JsonFormatter().format(record))
        self.assertEqual(entry["message"], "Source 7 failed")
        self.assertEqual(entry["level"], "WARNING")
        self.assertEqual(entry["logger"], "topics.fetching")
        self.assertEqual(entry["source_id"], 7)
        self.assertIn("ValueError: boom", entry["exception"])
        self.assertNotIn("\n", JsonFormatter().format(record))
