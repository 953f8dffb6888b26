#!/usr/bin/env python3
"""text.stats for crank-host, in pool mode: a long-lived process that reads one task per line
on stdin and answers each with one JSON line on stdout. Standard library only.

Protocol (see libs/worker-runtime/README.md, "Workers in any language"):
  in:  {"id": "...", "type": "text.stats", "params": {"text": "..."}}
  out: {"success": true, "result": {...}}  or  {"success": false, "error": {"code": "...", "message": "..."}}
Logs go to stderr; crank-host forwards each line as a log line with the task id.
"""
import json
import sys


def log(message):
    print(message, file=sys.stderr, flush=True)


def answer(payload):
    # One line per answer, flushed at once: crank-host waits for it.
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def refuse(code, message):
    answer({"success": False, "error": {"code": code, "message": message}})


def text_stats(params):
    text = params.get("text")
    if not isinstance(text, str):
        raise ValueError("text: must be a string")
    words = text.split()
    return {
        "characters": len(text),
        "words": len(words),
        "lines": len(text.splitlines()),
        "longestWord": max(words, key=len) if words else "",
    }


HANDLERS = {"text.stats": text_stats}


def main():
    log("text_stats.py ready")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            task = json.loads(line)
        except json.JSONDecodeError as error:
            refuse("INVALID_INPUT", f"the task is not JSON: {error}")
            continue
        if not isinstance(task, dict) or not isinstance(task.get("id"), str) or not task["id"]:
            refuse("INVALID_INPUT", "id: every task has a string id")
            continue
        handler = HANDLERS.get(task.get("type"))
        if handler is None:
            refuse("INVALID_INPUT", f"type: unknown task type {task.get('type')!r}")
            continue
        params = task.get("params")
        if not isinstance(params, dict):
            refuse("INVALID_INPUT", "params: must be an object")
            continue
        try:
            log(f"task {task['id']}: {len(params.get('text') or '')} characters")
            answer({"success": True, "result": handler(params)})
        except ValueError as error:
            refuse("INVALID_INPUT", str(error))
    log("stdin closed; text_stats.py exits")


if __name__ == "__main__":
    main()
