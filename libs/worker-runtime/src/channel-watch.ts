import { connectivityState, type Channel } from '@grpc/grpc-js';

/**
 * Keeps the channel to the controller connecting while the controller is away, and reports each
 * time it is READY again after a loss. The worker then heartbeats at once: a restarted controller,
 * which has forgotten the worker, answers NOT_FOUND and the worker registers again within moments
 * of the controller's return rather than at its next scheduled beat.
 */
export class ChannelWatch {
  private stopped = false;

  constructor(
    private readonly channel: Channel,
    private readonly onReconnected: () => void,
  ) {}

  start(): void {
    this.watch(this.channel.getConnectivityState(true), false);
  }

  /** Stops watching; closing the channel also ends it. */
  stop(): void {
    this.stopped = true;
  }

  private watch(state: connectivityState, lost: boolean): void {
    if (this.stopped || state === connectivityState.SHUTDOWN) return;
    this.channel.watchConnectivityState(state, Infinity, () => {
      if (this.stopped) return;
      // `true`: an IDLE channel (as grpc-js leaves one after its connection drops) connects again.
      const next = this.channel.getConnectivityState(true);
      if (next === connectivityState.READY && lost) this.onReconnected();
      this.watch(next, next !== connectivityState.READY && (lost || state === connectivityState.READY));
    });
  }
}
