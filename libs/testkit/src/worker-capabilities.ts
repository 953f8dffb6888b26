import {
  builtinCatalog,
  defineCapability,
  parseCapabilityDefinition,
  type Capability,
  type ErrorCode,
} from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { getJson } from './in-flight.js';

/**
 * The capabilities a registered worker serves, as it declares them. From its own `/docs/json`
 * when its HTTP URL is known (every field, `errorCodes` and `maxConcurrency` included); else from
 * the controller, which gives ids, versions, schemas and streaming modes, with the error codes
 * of the catalog entry of the same id (none for others) and the default `maxConcurrency`.
 *
 * @throws Error when the worker is not registered, or its /docs/json cannot be read
 */
export async function workerCapabilities(
  client: CrankClient,
  workerId: string,
  httpUrl: string | undefined,
): Promise<Capability[]> {
  if (httpUrl) {
    const docs = (await getJson(`${httpUrl}/docs/json`)) as { capabilities?: Record<string, unknown>[] };
    return (docs.capabilities ?? []).map((definition) => parseCapabilityDefinition(definition));
  }
  const worker = (await client.workers()).find((w) => w.id === workerId);
  if (!worker) throw new Error(`worker "${workerId}" is not registered with the controller`);
  const offered = await client.capabilities();
  const catalog = builtinCatalog();
  return worker.capabilities.flatMap(({ id, version }) => {
    const info = offered.find((c) => c.id === id && c.version === version);
    if (!info) return [];
    const codes: readonly ErrorCode[] =
      catalog.find(id, `^${version.split('.')[0] ?? ''}`)?.definition.errorCodes ?? [];
    return [
      defineCapability({
        id,
        version,
        description: info.description,
        inputSchema: info.inputSchema,
        outputSchema: info.outputSchema,
        streaming: info.streaming,
        errorCodes: codes,
      } as never),
    ];
  });
}
