/** Freezes a value through and through (objects and arrays), for one object handed to many readers. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * What `make` gives for `key` of `owner`, made once and kept (frozen) while `owner` lives, when `owner`
 * is frozen: a cached answer handed to every caller, so what is read from it is read once. For an object
 * anyone could change, `make` runs every time. A `make` that throws keeps nothing.
 */
export function madeOnce<K, V>(store: WeakMap<object, Map<K, V>>, owner: unknown, key: K, make: () => V): V {
  if (owner === null || typeof owner !== 'object' || !Object.isFrozen(owner)) return make();
  let byKey = store.get(owner);
  if (!byKey) {
    byKey = new Map();
    store.set(owner, byKey);
  }
  let value = byKey.get(key);
  if (value === undefined) {
    value = deepFreeze(make());
    byKey.set(key, value);
  }
  return value;
}
