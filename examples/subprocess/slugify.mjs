#!/usr/bin/env node
// text.slugify for crank-host, in per-task mode: one process per task. It reads the task line
// from stdin, writes one answer line on stdout, and exits 0 (success), 1 (a failure worth
// retrying) or 2 (a failure that would happen again). Logs go to stderr. Node.js built-ins only.
import { createInterface } from 'node:readline';

const log = (message) => process.stderr.write(`${message}\n`);

/** Writes the answer and sets the exit code; the process ends once stdout is flushed. */
function finish(answer, exitCode) {
  process.stdout.write(`${JSON.stringify(answer)}\n`);
  process.exitCode = exitCode;
}

function refuse(code, message) {
  finish({ success: false, error: { code, message } }, 2);
}

function slugify({ text, maxLength = 80 }) {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/, '');
  return { slug };
}

const lines = createInterface({ input: process.stdin });
let handled = false;
for await (const line of lines) {
  if (handled || line.trim() === '') continue;
  handled = true;
  let task;
  try {
    task = JSON.parse(line);
  } catch (error) {
    refuse('INVALID_INPUT', `the task is not JSON: ${error.message}`);
    continue;
  }
  if (typeof task?.id !== 'string' || task.id === '') {
    refuse('INVALID_INPUT', 'id: every task has a string id');
  } else if (task.type !== 'text.slugify') {
    refuse('INVALID_INPUT', `type: unknown task type ${JSON.stringify(task.type)}`);
  } else if (typeof task.params?.text !== 'string') {
    refuse('INVALID_INPUT', 'params.text: must be a string');
  } else {
    log(`slugifying ${task.params.text.length} characters`);
    finish({ success: true, result: slugify(task.params) }, 0);
  }
}
if (!handled) refuse('INVALID_INPUT', 'no task on stdin');
