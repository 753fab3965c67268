// Stand-in for 'wix-fetch': the standard fetch (Node's), with every request recorded.
import { record } from '../wix-web-module/state.js';

export async function fetch(url, options = {}) {
  record('fetches', {
    url: String(url),
    method: options.method ?? 'GET',
    headers: { ...(options.headers ?? {}) },
    body: options.body ?? null,
  });
  return globalThis.fetch(url, options);
}
