/**
 * The Crank wire contract, generated from `proto/` by ts-proto (grpc-js services). Internal to the
 * platform: worker authors use `@crank/worker-runtime` and callers `@crank/controller-client`.
 *
 * @example
 * ```ts
 * import { ControllerClient, InvokeRequest } from '@crank/proto';
 * const client = new ControllerClient('127.0.0.1:8443', credentials);
 * client.invoke(InvokeRequest.fromPartial({ capability: 'debug.echo' }), (err, res) => {});
 * ```
 */
export {
  CapabilityDescriptor,
  CapabilityStatus,
  ErrorInfo,
  Payload,
  Resources,
  StreamAccepted,
  StreamEnd,
  StreamFrame,
  StreamOpen,
  StreamingMode,
  streamingModeFromJSON,
  streamingModeToJSON,
} from './generated/crank/v1/common.js';
export {
  ExecuteRequest,
  ExecuteResponse,
  WorkerClient,
  WorkerService,
  type WorkerServer,
} from './generated/crank/v1/worker.js';
export {
  CancelJobRequest,
  CapabilitySummary,
  ControllerClient,
  ControllerService,
  DeregisterRequest,
  DeregisterResponse,
  EnrollRequest,
  EnrollResponse,
  GetJobRequest,
  HeartbeatRequest,
  HeartbeatResponse,
  IdentityKind,
  InvokeRequest,
  InvokeResponse,
  Job,
  JobEvent,
  JobOrder,
  JobStatus,
  jobStatusFromJSON,
  jobStatusToJSON,
  ListCapabilitiesRequest,
  ListCapabilitiesResponse,
  ListJobsRequest,
  ListJobsResponse,
  ListWorkersRequest,
  ListWorkersResponse,
  RegisterRequest,
  RegisterResponse,
  ReportProgressRequest,
  ReportProgressResponse,
  RetryJobRequest,
  JobTransition,
  SubmitJobRequest,
  WatchJobsRequest,
  WorkerPhase,
  WorkerSummary,
  type ControllerServer,
} from './generated/crank/v1/controller.js';
export { StreamEvent } from './generated/crank/v1/events.js';
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthListRequest,
  HealthListResponse,
  HealthService,
  type HealthServer,
} from './generated/grpc/health/v1/health.js';
export {
  contractErrorStatus,
  ERROR_METADATA_KEY,
  errorInfoFromMetadata,
  errorInfoToMetadata,
  parseDetailsJson,
  wireErrorInfo,
  type ContractErrorLike,
} from './error-metadata.js';
export {
  ACCEPTED_HEADER,
  FORWARDED_FOR_HEADER,
  HTTP_HEADERS,
  WIRE_LIMITS,
  definitionFromDescriptor,
  descriptorFromDefinition,
  echo,
  streamingModeFromWire,
  streamingModeToWire,
  timerDelayMs,
  type DescribedCapability,
  type StreamingModeName,
} from './wire.js';
export { tuneHeapForRequests } from './request-heap.js';
export { withDeferredDateFormats } from './deferred-date-formats.js';
export { MtlsListener, type MtlsListenerOptions, type TlsMaterial } from './mtls-listener.js';
export {
  CALL_DURATION_BUCKETS,
  SeriesCounter,
  SeriesHistogram,
  callRecorder,
  type CounterSeries,
  type HistogramSeries,
  type MetricObject,
  type MetricValue,
} from './series-metrics.js';
export {
  API_KEY_SCOPES,
  API_KEYS_FILE_NAME,
  ApiKeyStore,
  apiKeyGrants,
  parseApiKeyScopes,
  type ApiKeyInfo,
  type ApiKeyScope,
  type ApiKeyStoreOptions,
  type ApiKeyVerdict,
  type CreatedApiKey,
} from './api-keys.js';
export { PeerDirectory, publicKeyFingerprint, type HasPeer, type PeerIdentity } from './peer-directory.js';
