/**
 * The part of an AbortSignal that routing reads. An AbortSignal is one; a gRPC call passes a
 * {@link CallCancel} instead, because making an AbortSignal costs a few microseconds, more than
 * the rest of the controller's bookkeeping of a short call.
 */
export interface CallSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A cancellation flag with listeners, told once: {@link abort} calls each listener added before
 * it, as an AbortSignal would (one added after is never called).
 */
export class CallCancel implements CallSignal {
  aborted = false;
  private listeners: (() => void)[] | undefined;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const index = this.listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.listeners?.splice(index, 1);
  }
}
