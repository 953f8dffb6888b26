import type { Logger } from 'pino';
import type { ControllerConfig } from './config/controller-config.js';
import type { ByteBudget } from './invoke/byte-budget.js';
import type { InvocationService } from './invoke/invocation-service.js';
import type { StreamRelay } from './invoke/stream-relay.js';
import type { JobService } from './jobs/job-service.js';
import type { ControllerMetrics } from './metrics/controller-metrics.js';
import type { CertificateAuthority } from './pki/certificate-authority.js';
import type { WorkerRegistry } from './registry/worker-registry.js';
import type { Router } from './routing/router.js';

/** Injection token of {@link ControllerCore} in the HTTP module. */
export const CONTROLLER_CORE = Symbol('ControllerCore');

/** The parts of a running controller that the HTTP layer reads from. */
export interface ControllerCore {
  config: ControllerConfig;
  ca: CertificateAuthority;
  registry: WorkerRegistry;
  router: Router;
  invocations: InvocationService;
  /** Streams, the same for gRPC InvokeStream and the HTTP stream route. */
  streams: StreamRelay;
  /** Submit, read, cancel and watch jobs. */
  jobs: JobService;
  /** Payload bytes held for calls in flight. */
  budget: ByteBudget;
  metrics: ControllerMetrics;
  logger: Logger;
  startedAt: number;
  version: string;
}
