"""Broken: answers a task that has no id."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402


def no_id_check(task):
    task = dict(task, id=task.get("id") or "anything")  # the bug: a missing id is made up
    return base.check(task)


sys.exit(base.run("per-task", checker=no_id_check))
