"""Runs the shared db_read / db_write tests with this suite's client."""

from shared_db import *  # noqa: F401,F403
