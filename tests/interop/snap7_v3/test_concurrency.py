"""Runs the shared concurrency tests with this suite's client."""

from shared_concurrency import *  # noqa: F401,F403
