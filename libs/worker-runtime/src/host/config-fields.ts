import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { ConfigPath } from './config-source.js';
import type { HostConfigContext } from './host-config.js';

/** Reports a problem at a field of the config. */
export type Report = (path: ConfigPath, message: string) => void;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The program to start and the arguments that come before `args`: the script, for an interpreter. */
export function program(
  raw: Record<string, unknown>,
  at: ConfigPath,
  cwd: string,
  env: Readonly<Record<string, string>>,
  context: HostConfigContext,
  fail: Report,
): { command: string; scriptArgs: string[] } {
  const command = raw['command'];
  if (typeof command !== 'string' || command === '') {
    fail([...at, 'command'], 'is required: the program to run, or the script an interpreter runs');
    return { command: '', scriptArgs: [] };
  }
  const interpreter = raw['interpreter'];
  if (interpreter === undefined) {
    return { command: executable(command, [...at, 'command'], cwd, env, context, fail), scriptArgs: [] };
  }
  if (typeof interpreter !== 'string' || interpreter === '') {
    fail([...at, 'interpreter'], 'must be a program name or path (python3, .venv/bin/python)');
    return { command: '', scriptArgs: [] };
  }
  const script = resolve(cwd, command);
  if (!(context.isFile ?? isFile)(script)) fail([...at, 'command'], `the script ${script} does not exist`);
  return {
    command: executable(interpreter, [...at, 'interpreter'], cwd, env, context, fail),
    scriptArgs: [script],
  };
}

/** An absolute path for a program: relative to `cwd` when it holds a slash, else found on PATH. */
export function executable(
  name: string,
  at: ConfigPath,
  cwd: string,
  env: Readonly<Record<string, string>>,
  context: HostConfigContext,
  fail: Report,
): string {
  const check = context.isExecutable ?? isExecutable;
  if (name.includes('/')) {
    const path = isAbsolute(name) ? name : resolve(cwd, name);
    if (!check(path)) fail(at, `${path} is not an executable file`);
    return path;
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && check(join(dir, name))) return join(dir, name);
  }
  fail(at, `"${name}" is not found on PATH`);
  return name;
}

/** The inherited environment less every `CRANK_*` variable, `PYTHONUNBUFFERED=1`, then `env`. */
export function processEnv(
  raw: unknown,
  at: ConfigPath,
  inherited: NodeJS.ProcessEnv,
  fail: Report,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(inherited)) {
    // The bootstrap token and the host's own settings are not the worker's business.
    if (value !== undefined && !key.startsWith('CRANK_')) env[key] = value;
  }
  env['PYTHONUNBUFFERED'] = '1';
  if (raw === undefined) return env;
  if (!isRecord(raw)) {
    fail(at, 'must be a mapping of variable names to values');
    return env;
  }
  for (const [key, value] of Object.entries(raw)) {
    if (!ENV_NAME.test(key)) fail([...at, key], 'is not a valid variable name');
    else if (!isScalarValue(value)) fail([...at, key], 'must be a string, number or boolean');
    else env[key] = String(value);
  }
  return env;
}

/** A list of arguments; numbers and booleans are taken as their text. */
export function stringList(raw: unknown, at: ConfigPath, fail: Report): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    fail(at, 'must be a list of strings');
    return [];
  }
  return raw.map((value, index) => {
    if (!isScalarValue(value)) fail([...at, index], 'must be a string, number or boolean');
    return String(value);
  });
}

/** A required string field that must match `rule` (`what` says the rule in words). */
export function pattern(
  raw: Record<string, unknown>,
  key: string,
  at: ConfigPath,
  rule: RegExp,
  what: string,
  fail: Report,
): string {
  const value = raw[key];
  if (value === undefined) fail([...at, key], `is required: ${what}`);
  else if (typeof value !== 'string' || !rule.test(value))
    fail([...at, key], `must be ${what} (got ${JSON.stringify(value)})`);
  return typeof value === 'string' ? value : '';
}

/** An optional integer field within `min`..`max`, else `fallback`. */
export function integer(
  raw: Record<string, unknown>,
  key: string,
  at: ConfigPath,
  min: number,
  max: number,
  fallback: number,
  fail: Report,
): number {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail([...at, key], `must be an integer from ${min} to ${max} (got ${JSON.stringify(value)})`);
    return fallback;
  }
  return value;
}

/** Reports each key of `raw` that is not one of `known`: a typo would otherwise vanish. */
export function unknownFields(
  raw: Record<string, unknown>,
  known: readonly string[],
  at: ConfigPath,
  fail: Report,
): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) fail([...at, key], `is not a known field (known: ${known.join(', ')})`);
  }
}

/** Whether `path` is a file this process may execute. */
export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Whether `path` is a directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `path` is a file. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isScalarValue(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** Whether `value` is a plain mapping (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
