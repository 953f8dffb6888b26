"""Broken: exits 0 after refusing a task (a refusal is exit code 2)."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402

base.run("per-task")
sys.exit(0)  # the bug: the exit code of the answer is dropped
