"""Broken pool worker: answers one task, then exits (a pool process keeps reading)."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402

sys.exit(base.run("per-task"))  # the bug: per-task logic in a pool
