"""Runs the shared error tests with python-snap7 1.x (see `api` in conftest.py)."""

from shared_errors import *  # noqa: F401,F403
