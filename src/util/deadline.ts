/**
 * Time limits that a stall of this process does not trip.
 *
 * Node runs the timers that are due before it reads its sockets. After the event loop was held (a long
 * synchronous task, a garbage collection, a machine short of CPU), a timer set for an answer fires
 * first, while the answer is already waiting, unread, on the socket: a healthy Redis was taken for
 * a dead one after a 500 ms stall of this process (measured). Here a timer that fires late does not
 * end the wait: it is set again for a short grace, during which pending I/O is read, and the limit is
 * reached only when a timer fires on time with still no answer.
 */

export class DeadlineError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** However many stalls come in a row, the wait ends after this many times its limit. */
const MAX_STRETCH = 10;

/**
 * Settles as `p` does, or rejects with DeadlineError once `ms` have passed in which this process could
 * have read the answer. A rejection of `p` that comes after the limit is not reported as unhandled.
 */
export function withinDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  p.catch(() => {});
  // Long enough for pending I/O to be read; a timer later than this means the loop was held.
  const grace = Math.min(Math.max(ms / 4, 20), 250);
  return new Promise<T>((resolve, reject) => {
    const start = performance.now();
    let due = start + ms;
    let timer = setTimeout(function check() {
      const now = performance.now();
      if (now - due > grace && now - start < ms * MAX_STRETCH) {
        due = now + grace;
        timer = setTimeout(check, grace);
        return;
      }
      reject(new DeadlineError(ms));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
