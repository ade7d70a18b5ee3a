"""The persistence crash suite uses the shared s7rtd path (tests/interop/conftest.py) but
starts and SIGKILLs its servers itself."""
