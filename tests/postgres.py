"""Throwaway PostgreSQL databases for tests that start real processes."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


@contextmanager
def throwaway_postgres_database(server_url: str, prefix: str = "daybrief") -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of `server_url`, dropped afterwards
    (also when the body fails). Its name is this process's own, so suites running side by
    side on one server never meet."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
