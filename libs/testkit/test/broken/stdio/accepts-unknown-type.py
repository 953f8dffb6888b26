"""Broken: answers a task of any type."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402


def any_type_check(task):
    return base.check(dict(task, type=base.TYPE))  # the bug: the type is never looked at


sys.exit(base.run("per-task", checker=any_type_check))
