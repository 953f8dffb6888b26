"""A stdio worker that keeps the crank-host protocol, for the testkit's tests: `test.words`
counts the words of `params.text`. Each deliberately broken worker next to it imports this and
changes one thing. Standard library only.

run(mode) serves `per-task` (one task, then an exit code) or `pool` (a task per line).
"""
import json
import sys

TYPE = "test.words"


class Refusal(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def log(message):
    print(message, file=sys.stderr, flush=True)


def answer(payload):
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def check(task):
    """Refuses what the protocol says to refuse; returns the params."""
    if not isinstance(task, dict) or not isinstance(task.get("id"), str) or not task["id"]:
        raise Refusal("INVALID_INPUT", "id: every task has a string id")
    if task.get("type") != TYPE:
        raise Refusal("INVALID_INPUT", f"type: unknown task type {task.get('type')!r}")
    params = task.get("params")
    if not isinstance(params, dict) or not isinstance(params.get("text"), str):
        raise Refusal("INVALID_INPUT", "params.text: must be a string")
    return params


def work(params):
    return {"words": len(params["text"].split())}


def handle(line, checker=check, worker=work):
    """Answers one task line; returns the exit code a per-task process ends with."""
    try:
        task = json.loads(line)
        params = checker(task)
        log(f"task {task.get('id')}: {len(params.get('text', ''))} characters")
        answer({"success": True, "result": worker(params)})
        return 0
    except json.JSONDecodeError as error:
        answer({"success": False, "error": {"code": "INVALID_INPUT", "message": f"not JSON: {error}"}})
        return 2
    except Refusal as refusal:
        answer({"success": False, "error": {"code": refusal.code, "message": str(refusal)}})
        return 2


def run(mode, **hooks):
    if mode == "pool":
        for line in sys.stdin:
            if line.strip():
                handle(line, **hooks)
        return 0
    line = sys.stdin.readline()
    return handle(line, **hooks)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1] if len(sys.argv) > 1 else "per-task"))
