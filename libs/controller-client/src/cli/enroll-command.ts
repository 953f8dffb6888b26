import { callerFiles, controllerFingerprint } from '../caller-store.js';
import { callerIdentity } from '../connect.js';
import { readCaCertificate } from '../identity.js';
import { commandLine, printJson, type CommandContext } from './run-cli.js';
import { UsageError } from './usage.js';

/**
 * `crank enroll`: gets a new certificate for the caller with the bootstrap token, whatever is
 * kept, and keeps it under the caller's home. Prints the identity, its expiry and the files.
 */
export async function enrollCommand(context: CommandContext): Promise<number> {
  const line = commandLine(context);
  if (line.args.length > 0) throw new UsageError(`enroll: takes no arguments (got "${line.args.join(' ')}")`);
  const identity = await callerIdentity(line.location, line.name, { home: line.home, forceNew: true });
  const caPem = await readCaCertificate(line.location);
  const files = callerFiles(line.home, caPem, line.name);
  printJson(context.io, {
    identity: identity.identity,
    notAfter: identity.notAfter.toISOString(),
    controller: controllerFingerprint(caPem),
    keyFile: files.keyFile,
    certFile: files.certFile,
  });
  return 0;
}
