#!/usr/bin/env node
// The `crank` process: wires stdin, stdout, Ctrl-C and the exit status to runCli, and names the
// module of each command. Parsing, help and error reporting live in run-cli.ts; a command that
// takes options of its own parses `context.argv` (the arguments after its name) itself.
import { CrankError } from '@crank/capabilities';
import { enrollCommand } from './enroll-command.js';
import { invokeCommand } from './invoke-command.js';
import { jobsCommand } from './jobs-command.js';
import { runKeysCommand } from './keys-command.js';
import { capabilitiesCommand, workersCommand } from './list-commands.js';
import { runCli, type CliIo, type CommandContext } from './run-cli.js';
import { UsageError } from './usage.js';

async function dispatch(command: string, context: CommandContext): Promise<number> {
  switch (command) {
    case 'capabilities':
      return capabilitiesCommand(context);
    case 'workers':
      return workersCommand(context);
    case 'invoke':
      return invokeCommand(context);
    case 'jobs':
      return jobsCommand(context);
    case 'enroll':
      return enrollCommand(context);
    case 'keys': {
      // Keys live in the controller's data dir: `--data-dir` before the command name counts too.
      const dataDir = context.options['data-dir'];
      return runKeysCommand(
        [...context.argv, ...(dataDir ? ['--data-dir', dataDir] : [])],
        context.io.env,
        context.io,
      );
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const interrupted = new AbortController();
// The first Ctrl-C cancels the call in flight; a second one, with no listener left, ends the process.
process.once('SIGINT', () =>
  interrupted.abort(new CrankError('CANCELLED', 'the call was cancelled (Ctrl-C)')),
);
// A closed stdout (`crank invoke ... | head`) cancels the call instead of crashing on EPIPE.
process.stdout.on('error', () => interrupted.abort(new CrankError('CANCELLED', 'stdout was closed')));

const io: CliIo = {
  // A getter: stdin is only opened when a command reads it.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupted.signal,
};

runCli(process.argv.slice(2), io, dispatch).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`crank: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
