"""Runs the shared area tests with python-snap7 1.x (see `api` in conftest.py)."""

from shared_areas import *  # noqa: F401,F403
