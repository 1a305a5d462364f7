// A wait that a stop ends early: it resolves (never rejects) after `ms`, or at
// once when `signal` aborts, so a backoff or an interval never holds up a
// SIGTERM. (node's timers/promises rejects on abort, which every caller would
// have to catch.)

export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
