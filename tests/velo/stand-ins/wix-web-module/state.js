// What the stand-ins record, shared through one global object the runners print.
export function state() {
  globalThis.__velo ??= { elevated: 0, fetches: [], navigations: [] };
  return globalThis.__velo;
}

export function record(kind, entry) {
  state()[kind].push(entry);
}
