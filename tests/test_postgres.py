import os

import psycopg
import pytest

from tests.postgres import throwaway_postgres_database

SERVER_URL = os.environ.get("DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not SERVER_URL.startswith(("postgres://", "postgresql://")),
    reason="needs DATABASE_URL on a PostgreSQL server",
)


def databases() -> set[str]:
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        return {name for (name,) in admin.execute("SELECT datname FROM pg_database")}


def test_a_throwaway_database_is_this_process_own_and_dropped_even_after_a_failure():
    names = []
    with pytest.raises(RuntimeError), throwaway_postgres_database(SERVER_URL, "h_tmp") as url:
        names.append(url.rpartition("/")[2])
        assert names[0] in databases()
        raise RuntimeError("the test failed")
    assert names[0].startswith(f"h_tmp_{os.getpid()}_")
    assert names[0] not in databases()


def test_two_throwaway_databases_at_once_get_different_names():
    with (
        throwaway_postgres_database(SERVER_URL, "h_tmp") as first,
        throwaway_postgres_database(SERVER_URL, "h_tmp") as second,
    ):
        assert first != second
