import {
  InvalidCapabilityError,
  builtinCatalog,
  compareWithCatalog,
  defineCapability,
  type Capability,
  type CapabilityDefinition,
  type ErrorCode,
} from '@crank/capabilities';
import type { ConfigPath } from './config-source.js';

/**
 * Codes the host answers by itself that a capability must declare (the others it may answer,
 * DEADLINE_EXCEEDED, UNAVAILABLE and INTERNAL, need no declaration). Added to each capability
 * unless a catalog entry of the same id and major forbids it; then an oversized answer is INTERNAL.
 */
export const HOST_ERROR_CODES: readonly ErrorCode[] = ['PAYLOAD_TOO_LARGE'];

/**
 * One entry of a worker's `capabilities`: `catalog: <id>` or `catalog: <id>@<range>` for a
 * built-in capability, else a definition as `defineCapability` takes it. The host serves unary
 * JSON capabilities only. `resources.maxConcurrency` defaults to the worker's `concurrency`.
 *
 * @returns undefined after reporting each problem at its field
 */
export function compileHostCapability(
  raw: unknown,
  at: ConfigPath,
  concurrency: number,
  fail: (path: ConfigPath, message: string) => void,
): Capability | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(at, 'must be a capability definition, or `catalog: <id>`');
    return undefined;
  }
  const entry = raw as Record<string, unknown>;
  let definition: CapabilityDefinition;
  if ('catalog' in entry) {
    const found = fromCatalog(entry, at, fail);
    if (!found) return undefined;
    definition = found;
  } else {
    try {
      definition = defineCapability(entry as never).definition;
    } catch (error) {
      if (!(error instanceof InvalidCapabilityError)) throw error;
      for (const issue of error.issues) fail([...at, ...fieldPath(issue.field)], issue.message);
      return undefined;
    }
  }
  if (definition.streaming !== 'none') {
    fail([...at, 'streaming'], `crank-host serves unary capabilities only (got "${definition.streaming}")`);
    return undefined;
  }
  if (definition.inputMediaTypes.length > 0) {
    fail([...at, 'inputMediaTypes'], 'crank-host serves JSON input only; leave inputMediaTypes out');
    return undefined;
  }
  const given = (entry['resources'] as { maxConcurrency?: unknown } | undefined)?.maxConcurrency;
  return defineCapability({
    ...definition,
    errorCodes: withHostCodes(definition),
    resources: {
      ...definition.resources,
      maxConcurrency: given === undefined ? concurrency : definition.resources.maxConcurrency,
    },
  });
}

function fromCatalog(
  entry: Record<string, unknown>,
  at: ConfigPath,
  fail: (path: ConfigPath, message: string) => void,
): CapabilityDefinition | undefined {
  const others = Object.keys(entry).filter((key) => key !== 'catalog' && key !== 'resources');
  if (others.length > 0) {
    fail(
      [...at, others[0] ?? ''],
      "a catalog capability takes only `catalog` (and `resources`); its contract is the catalog's",
    );
    return undefined;
  }
  const ref = entry['catalog'];
  if (typeof ref !== 'string' || ref === '') {
    fail([...at, 'catalog'], 'must be a catalog id, e.g. debug.echo or debug.echo@^1');
    return undefined;
  }
  const split = ref.indexOf('@');
  const id = split === -1 ? ref : ref.slice(0, split);
  const range = split === -1 ? '' : ref.slice(split + 1);
  const catalog = builtinCatalog();
  try {
    const found = catalog.find(id, range);
    if (found) return found.definition;
  } catch (error) {
    fail([...at, 'catalog'], (error as Error).message);
    return undefined;
  }
  fail(
    [...at, 'catalog'],
    catalog.versions(id).length === 0
      ? `"${id}" is not in the catalog (it has: ${catalog.ids().join(', ')})`
      : `no version of "${id}" satisfies "${range}" (the catalog has ${catalog.versions(id).join(', ')})`,
  );
  return undefined;
}

/** The definition's codes plus {@link HOST_ERROR_CODES}, where the catalog allows them. */
function withHostCodes(definition: CapabilityDefinition): ErrorCode[] {
  const codes = [...definition.errorCodes];
  // Versions are checked semver by now: the major is the first number.
  const major = (version: string): string => version.split('.')[0] ?? '';
  const entry = builtinCatalog()
    .entries()
    .find((c) => c.id === definition.id && major(c.version) === major(definition.version));
  for (const code of HOST_ERROR_CODES) {
    if (codes.includes(code)) continue;
    const widened = { ...definition, errorCodes: [...codes, code] };
    if (entry && compareWithCatalog(widened, entry.definition).length > 0) continue;
    codes.push(code);
  }
  return codes;
}

/** `errorCodes[2]` -> `['errorCodes', 2]`; `resources.maxConcurrency` -> two steps. */
function fieldPath(field: string): (string | number)[] {
  return field
    .split(/[.[\]]/)
    .filter((part) => part !== '')
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
