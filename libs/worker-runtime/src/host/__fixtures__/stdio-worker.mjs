// A stdio worker for the host's specs that does what each task's params say (`do`), in either
// mode: per task (one line, then stdin closes) or pool (a line per task, for as long as stdin is
// open). Logs go to stderr.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const answer = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

function handle(task) {
  const p = task.params ?? {};
  process.stderr.write(`task ${task.id}: ${p.do}\n`);
  switch (p.do) {
    case 'echo':
      answer({ success: true, result: p.result ?? { echoed: p } });
      process.exitCode = 0;
      return;
    case 'echo-id':
      answer({ id: p.id ?? task.id, success: true, result: { ok: true } });
      return;
    case 'fail':
      answer({
        success: false,
        error: { code: p.code, message: p.message ?? 'failed on purpose', retryable: p.retryable },
      });
      process.exitCode = p.exit ?? 2;
      return;
    case 'exit':
      process.exit(p.exit);
      return;
    case 'crash':
      process.kill(process.pid, 'SIGSEGV');
      return;
    case 'garbage':
      process.stdout.write('this is not json\n');
      return;
    case 'two-lines':
      process.stdout.write('starting\n');
      answer({ success: true, result: {} });
      return;
    case 'big':
      process.stdout.write(`{"success":true,"result":"${'x'.repeat(p.bytes)}"}\n`);
      return;
    case 'hang':
      setInterval(() => undefined, 1_000);
      return;
    case 'hang-with-child': {
      // A grandchild in the same process group: killing the group must end it too.
      const child = spawn('sleep', ['600'], { stdio: 'ignore' });
      writeFileSync(p.pidFile, String(child.pid));
      setInterval(() => undefined, 1_000);
      return;
    }
    case 'flaky': {
      // Fails with exit code 1 (or "retryable": true in a pool) until it has failed `failures` times.
      let failed = 0;
      try {
        failed = Number(readFileSync(p.counterFile, 'utf8'));
      } catch {
        // first attempt
      }
      if (failed < p.failures) {
        writeFileSync(p.counterFile, String(failed + 1));
        answer({ success: false, error: { message: `attempt ${failed + 1} failed`, retryable: true } });
        process.exitCode = 1;
        return;
      }
      answer({ success: true, result: { attempts: failed + 1 } });
      process.exitCode = 0;
      return;
    }
    default:
      answer({ success: false, error: { code: 'INVALID_INPUT', message: `unknown do: ${p.do}` } });
      process.exitCode = 2;
  }
}

if (process.env['FIXTURE_BANNER']) process.stdout.write('worker starting\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== '') handle(JSON.parse(line));
}
