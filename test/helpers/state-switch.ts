/**
 * A real store (SQLite or memory) behind a switch, for tests of ResilientStore: 'ok' passes every call
 * through, 'throw' fails every call, 'hang' never answers. Not a mock: the state is the real store's.
 */
import type { StateStore, StoreHealth } from '../../src/vt/state/store.js';

export type SwitchMode = 'ok' | 'throw' | 'hang';

export class SwitchedStore implements StateStore {
  mode: SwitchMode = 'ok';
  /** Calls that reached the real store. */
  passed = 0;
  readonly inner: StateStore;
  constructor(inner: StateStore) {
    this.inner = inner;
  }
  get kind() {
    return this.inner.kind;
  }
  get location() {
    return this.inner.location;
  }
  health(): StoreHealth {
    return this.inner.health();
  }
  #gate<T>(fn: () => Promise<T>): Promise<T> {
    if (this.mode === 'throw') return Promise.reject(new Error('switched off'));
    if (this.mode === 'hang') return new Promise<T>(() => {});
    this.passed++;
    return fn();
  }
  ping: StateStore['ping'] = () => this.#gate(() => this.inner.ping());
  acquire: StateStore['acquire'] = (a) => this.#gate(() => this.inner.acquire(a));
  settle: StateStore['settle'] = (s, t, w) => this.#gate(() => this.inner.settle(s, t, w));
  refund: StateStore['refund'] = (s, n) => this.#gate(() => this.inner.refund(s, n));
  pause: StateStore['pause'] = (u, n) => this.#gate(() => this.inner.pause(u, n));
  usage: StateStore['usage'] = (n, w) => this.#gate(() => this.inner.usage(n, w));
  cacheGet: StateStore['cacheGet'] = (k, n) => this.#gate(() => this.inner.cacheGet(k, n));
  cacheSet: StateStore['cacheSet'] = (k, v, t, n) => this.#gate(() => this.inner.cacheSet(k, v, t, n));
  cacheStats: StateStore['cacheStats'] = () => this.#gate(() => this.inner.cacheStats());
  lease: StateStore['lease'] = (k, o, t, n) => this.#gate(() => this.inner.lease(k, o, t, n));
  releaseLease: StateStore['releaseLease'] = (k, o) => this.#gate(() => this.inner.releaseLease(k, o));
  docPut: StateStore['docPut'] = (k, v, t, n) => this.#gate(() => this.inner.docPut(k, v, t, n));
  docGet: StateStore['docGet'] = (k, n) => this.#gate(() => this.inner.docGet(k, n));
  docDelete: StateStore['docDelete'] = (k) => this.#gate(() => this.inner.docDelete(k));
  docList: StateStore['docList'] = (p, n) => this.#gate(() => this.inner.docList(p, n));
  close: StateStore['close'] = () => this.inner.close();
}
