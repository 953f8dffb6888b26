"""Broken: logs on stdout, where only answers belong."""
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the tests
import protocol_worker as base  # noqa: E402


def chatty(params):
    print("counting words...")  # the bug: a log line on stdout
    return base.work(params)


sys.exit(base.run("per-task", worker=chatty))
