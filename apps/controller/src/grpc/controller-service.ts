import { randomUUID } from 'node:crypto';
import {
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type UntypedHandleCall,
} from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import {
  CapabilitySummary,
  FORWARDED_FOR_HEADER,
  IdentityKind,
  WorkerSummary,
  streamingModeToWire,
  type ControllerServer,
  type PeerDirectory,
  type RegisterRequest,
  type StreamFrame,
} from '@crank/proto';
import type { Logger } from 'pino';
import { CallCancel } from '../invoke/call-signal.js';
import type { InvocationService } from '../invoke/invocation-service.js';
import type { StreamRelay } from '../invoke/stream-relay.js';
import type { CertificateAuthority } from '../pki/certificate-authority.js';
import { WorkerIdTakenError, type WorkerRegistry } from '../registry/worker-registry.js';
import { offerInFlight, workerInFlight, workerState, type WorkerRecord } from '../registry/worker-record.js';
import type { Router } from '../routing/router.js';
import type { JobService } from '../jobs/job-service.js';
import { EnrollmentGuard, peerHost } from './enrollment-guard.js';
import { createJobHandlers } from './job-handlers.js';
import { asCrankError, deadlineOf, toGrpcStatus } from './grpc-errors.js';
import { requirePeer, requireWorkerSelf } from './peer-identity.js';

export interface ControllerServiceDeps {
  ca: CertificateAuthority;
  registry: WorkerRegistry;
  router: Router;
  invocations: InvocationService;
  streams: StreamRelay;
  peers: PeerDirectory;
  certTtlMs: number;
  heartbeatIntervalMs: number;
  logger: Logger;
  /**
   * Asks a live worker's health service whether it still serves (short deadline). Used when its
   * id is claimed with another key: a holder that does not answer is evicted, so a worker
   * restarted after a crash gets its id back at once instead of after the eviction delay.
   */
  probe(worker: WorkerRecord): Promise<boolean>;
  jobs: JobService;
}

/** Answers a unary call from an async function, turning thrown errors into contract statuses. */
function unary<Req, Res>(
  logger: Logger,
  fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void {
  return (call, callback) => {
    fn(call).then(
      (response) => callback(null, response),
      (error: unknown) => {
        const crank = asCrankError(error);
        if (crank.code === 'INTERNAL')
          logger.error({ event: 'rpc_failed', err: error, path: call.getPath() }, 'rpc failed');
        callback(toGrpcStatus(crank), null);
      },
    );
  };
}

/** Lists capabilities with their live worker counts, one entry per id and version. */
export function summarizeCapabilities(registry: WorkerRegistry): CapabilitySummary[] {
  const summaries = new Map<string, CapabilitySummary>();
  for (const worker of registry.list()) {
    for (const offer of worker.offers.values()) {
      const c = offer.capability;
      const summary =
        summaries.get(c.key) ??
        CapabilitySummary.fromPartial({
          id: c.id,
          version: c.version,
          description: c.definition.description ?? '',
          streaming: streamingModeToWire(c.definition.streaming),
          inputSchemaJson: JSON.stringify(c.definition.inputSchema),
          outputSchemaJson: JSON.stringify(c.definition.outputSchema),
          inputMediaTypes: [...c.definition.inputMediaTypes],
        });
      if (offer.ready && !worker.draining) summary.liveWorkers += 1;
      summaries.set(c.key, summary);
    }
  }
  return [...summaries.values()].sort(
    (a, b) => a.id.localeCompare(b.id) || a.version.localeCompare(b.version),
  );
}

/** Live workers with their state, then those that left recently as `gone`. */
export function summarizeWorkers(registry: WorkerRegistry, router: Router): WorkerSummary[] {
  const summary = (w: WorkerRecord, state: string): WorkerSummary =>
    WorkerSummary.fromPartial({
      workerId: w.id,
      address: w.address,
      state,
      capabilities: [...w.offers.values()].map((o) => ({
        id: o.capability.id,
        version: o.capability.version,
        ready: o.ready,
        inFlight: state === 'gone' ? 0 : offerInFlight(w, o),
        reason: o.reason,
      })),
      inFlight: state === 'gone' ? 0 : workerInFlight(w),
      // Counted by the controller as calls end, so it is live, not as of the last heartbeat.
      completed: w.ledger.completed,
      lastHeartbeatUnixMs: w.lastHeartbeatAt,
      gpu: w.gpu,
    });
  return [
    ...registry.list().map((w) => summary(w, workerState(w, router.outOfRotation(w.id)))),
    ...registry.departedWorkers().map(({ worker }) => summary(worker, 'gone')),
  ];
}

/** The `crank.v1.Controller` gRPC service. */
export function createControllerService(deps: ControllerServiceDeps): ControllerServer {
  const { logger, peers } = deps;
  const enrollments = new EnrollmentGuard({ logger });

  /** Registers, evicting first a holder of the id that no longer answers its health checks. */
  const register = async (
    request: RegisterRequest,
    keyFingerprint: string,
    certNotAfter: number | undefined,
  ): Promise<void> => {
    try {
      deps.registry.register(request, keyFingerprint, certNotAfter);
    } catch (error) {
      if (!(error instanceof WorkerIdTakenError)) throw error;
      if (await deps.probe(error.holder).catch(() => false)) throw error;
      deps.registry.evict(
        error.holder,
        'its id was claimed by a new key and it did not answer a health check',
      );
      deps.registry.register(request, keyFingerprint, certNotAfter);
    }
  };

  const service: ControllerServer = {
    enroll: unary(logger, async (call) => {
      const request = call.request;
      const host = peerHost(call.getPeer());
      const delayMs = enrollments.delayMs(host);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const refuse = (error: CrankError): never => {
        enrollments.failed(host, '', error.message);
        throw error;
      };
      const kind =
        request.kind === IdentityKind.IDENTITY_KIND_CALLER
          ? 'caller'
          : request.kind === IdentityKind.IDENTITY_KIND_WORKER
            ? 'worker'
            : refuse(new CrankError('INVALID_INPUT', `kind: must be WORKER or CALLER (got ${request.kind})`));
      if (request.csrPem.length > 16_384)
        refuse(new CrankError('INVALID_INPUT', 'csr_pem: larger than 16 KiB'));
      const peer = peers.lookup(call);
      // Renewal: a holder of a valid certificate may get a new one for the same identity without
      // the bootstrap token.
      const renewing = peer !== undefined && peer.kind === kind;
      if (!renewing && !deps.ca.checkToken(request.bootstrapToken)) {
        refuse(new CrankError('UNAUTHENTICATED', "bootstrap_token: does not match the controller's token"));
      }
      const signed = await deps.ca
        .signCsr(request.csrPem, kind, deps.certTtlMs)
        .catch((error: unknown) => refuse(asCrankError(error)));
      if (renewing && signed.identity !== peer.id) {
        refuse(new CrankError('PERMISSION_DENIED', `csr_pem: "${peer.id}" may only renew its own identity`));
      }
      enrollments.succeeded(host);
      if (renewing && kind === 'worker') {
        deps.registry.rebindKey(signed.identity, peer.keyFingerprint, signed.keyFingerprint);
      }
      logger.info(
        { event: 'enrolled', identity: signed.identity, kind, renewal: renewing },
        'certificate issued',
      );
      return {
        certificatePem: signed.certPem,
        caPem: deps.ca.certPem,
        identity: signed.identity,
        notAfterUnixMs: signed.notAfter.getTime(),
      };
    }),

    register: unary(logger, async (call) => {
      const peer = requireWorkerSelf(peers, call, call.request.workerId);
      await register(call.request, peer.keyFingerprint, peer.notAfter);
      return { heartbeatIntervalMs: deps.heartbeatIntervalMs };
    }),

    heartbeat: unary(logger, async (call) => {
      const peer = requireWorkerSelf(peers, call, call.request.workerId);
      const worker = deps.registry.heartbeat(call.request, peer.keyFingerprint, peer.notAfter);
      return { heartbeatIntervalMs: deps.heartbeatIntervalMs, drain: worker.drainRequested };
    }),

    deregister: unary(logger, async (call) => {
      const peer = requireWorkerSelf(peers, call, call.request.workerId);
      deps.registry.deregister(
        call.request.workerId,
        (call.request.reason || 'requested').slice(0, 200),
        peer.keyFingerprint,
      );
      return {};
    }),

    listCapabilities: unary(logger, async (call) => {
      requirePeer(peers, call);
      return { capabilities: summarizeCapabilities(deps.registry) };
    }),

    listWorkers: unary(logger, async (call) => {
      requirePeer(peers, call);
      return { workers: summarizeWorkers(deps.registry, deps.router) };
    }),

    invoke: unary(logger, async (call) => {
      const peer = requirePeer(peers, call);
      const abort = new CallCancel();
      // grpc-js also reports 'cancelled' when a finished call's stream closes; listen only while
      // the call runs, so that finished calls cost no abort.
      const onCancel = (): void => abort.abort();
      call.once('cancelled', onCancel);
      const deadlineMs = deadlineOf(call);
      const request = call.request;
      // Another controller forwarding a call names the original caller; only a controller may.
      const forwardedFor =
        peer.kind === 'controller' ? String(call.metadata.get(FORWARDED_FOR_HEADER)[0] ?? '') : '';
      try {
        const result = await deps.invocations.invoke({
          capability: request.capability,
          range: request.version,
          input: request.input ?? { contentType: '', data: Buffer.alloc(0) },
          requestId: request.requestId || randomUUID(),
          caller: forwardedFor ? forwardedFor.slice(0, 128) : peer.id,
          deadlineMs,
          signal: abort,
          forwarded: peer.kind === 'controller',
        });
        return { output: result.output, workerId: result.workerId, version: result.version };
      } finally {
        call.removeListener('cancelled', onCancel);
      }
    }),

    invokeStream: (call: ServerDuplexStream<StreamFrame, StreamFrame>) => {
      let peer;
      try {
        peer = requirePeer(peers, call);
      } catch (error) {
        call.emit('error', toGrpcStatus(error));
        return;
      }
      deps.streams.handle(call, peer.id);
    },

    ...createJobHandlers({ jobs: deps.jobs, peers, logger }),
  };
  return service as ControllerServer & Record<string, UntypedHandleCall>;
}
