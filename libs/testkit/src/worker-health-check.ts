import { Metadata } from '@grpc/grpc-js';
import { channelCredentials, type TlsIdentity } from '@crank/controller-client';
import { HealthCheckRequest, HealthCheckResponse_ServingStatus, HealthClient } from '@crank/proto';
import type { Run } from './case-runner.js';
import { failed, messageOf, passed, skipped, type ConformanceResult } from './conformance-result.js';

/** Name of the built-in case that asks the worker's own gRPC health service. */
export const HEALTH_CASE = 'the worker answers grpc.health.v1 SERVING, for itself and for the capability';

/**
 * Asks the worker under test, at the address it registered, over mTLS with the caller's
 * certificate: `grpc.health.v1.Health/Check` for the whole worker (service '') and for the
 * capability's id must both answer SERVING.
 */
export async function checkWorkerHealth(
  run: Run,
  identity: TlsIdentity | undefined,
): Promise<ConformanceResult> {
  if (!identity) {
    return skipped(
      HEALTH_CASE,
      'no caller identity to reach the worker with (give `identity`, or a cluster)',
    );
  }
  if (!run.workerId) return skipped(HEALTH_CASE, 'the worker under test is not known (give `workerId`)');
  const listed = (await run.client.workers()).find((w) => w.id === run.workerId);
  if (!listed) return failed(HEALTH_CASE, `worker "${run.workerId}" is not registered with the controller`);
  const health = new HealthClient(listed.address, channelCredentials(identity.caPem, identity), {
    'grpc.ssl_target_name_override': listed.id,
    'grpc.default_authority': listed.id,
  });
  try {
    for (const service of ['', run.capability.id]) {
      const status = await check(health, service, run.timeoutMs);
      if (status !== 'SERVING') {
        const what = service === '' ? 'the worker (service "")' : `service "${service}"`;
        return failed(HEALTH_CASE, `${what} answered ${status} at ${listed.address}`, listed.id);
      }
    }
  } catch (error) {
    return failed(HEALTH_CASE, `health check at ${listed.address} failed: ${messageOf(error)}`, listed.id);
  } finally {
    health.close();
  }
  return passed(HEALTH_CASE, listed.id);
}

function check(health: HealthClient, service: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) =>
    health.check(
      HealthCheckRequest.fromPartial({ service }),
      new Metadata(),
      { deadline: Date.now() + Math.min(timeoutMs, 10_000) },
      (error, response) => {
        if (error) reject(error);
        else resolve(HealthCheckResponse_ServingStatus[response.status] ?? String(response.status));
      },
    ),
  );
}
