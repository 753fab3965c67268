// Stand-in for 'wix-auth': elevate(fn) marks the call as elevated while it starts.
import { state } from '../wix-web-module/state.js';

export function elevate(sourceFunction) {
  if (typeof sourceFunction !== 'function') {
    throw new TypeError('elevate() needs a function');
  }
  return async (...args) => {
    state().elevated += 1;
    try {
      return await sourceFunction(...args);
    } finally {
      state().elevated -= 1;
    }
  };
}
