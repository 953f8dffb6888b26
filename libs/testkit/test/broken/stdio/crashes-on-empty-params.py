"""Broken: crashes (a traceback, exit code 1) on params without `text`."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402


def trusting_check(task):
    if task.get("type") != base.TYPE or not task.get("id"):
        raise base.Refusal("INVALID_INPUT", "bad task")
    return {"text": task["params"]["text"]}  # the bug: KeyError on empty params


sys.exit(base.run("per-task", checker=trusting_check))
