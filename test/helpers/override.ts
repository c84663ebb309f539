/** `target` with one property replaced; its methods stay bound to `target` (private fields). */
export function overriding<T extends object, K extends keyof T>(
  target: T,
  property: K,
  value: T[K],
): T {
  return new Proxy(target, {
    get(object, name) {
      if (name === property) return value;
      const found: unknown = Reflect.get(object, name);
      return typeof found === 'function' ? (found as () => unknown).bind(object) : found;
    },
  });
}
