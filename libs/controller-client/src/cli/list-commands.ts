import { commandLine, printJson, type CommandContext, type CommandLine } from './run-cli.js';
import { UsageError } from './usage.js';

/** `crank capabilities`: every offered capability version with its workers, mode and schemas. */
export async function capabilitiesCommand(context: CommandContext): Promise<number> {
  const line = noArguments('capabilities', context);
  const client = await line.connect();
  try {
    printJson(context.io, await client.capabilities());
    return 0;
  } finally {
    client.close();
  }
}

/** `crank workers`: every registered worker with its state and load. */
export async function workersCommand(context: CommandContext): Promise<number> {
  const line = noArguments('workers', context);
  const client = await line.connect();
  try {
    printJson(context.io, await client.workers());
    return 0;
  } finally {
    client.close();
  }
}

function noArguments(command: string, context: CommandContext): CommandLine {
  const line = commandLine(context);
  if (line.args.length > 0)
    throw new UsageError(`${command}: takes no arguments (got "${line.args.join(' ')}")`);
  return line;
}
