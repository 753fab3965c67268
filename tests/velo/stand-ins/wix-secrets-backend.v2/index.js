// Stand-in for 'wix-secrets-backend.v2': getSecretValue(name) -> { value }, elevated only.
import { state } from '../wix-web-module/state.js';

async function getSecretValue(name) {
  if (state().elevated === 0) {
    // Wix: "This function requires elevated permissions".
    throw new Error('Forbidden: getSecretValue() must be called through elevate()');
  }
  const all = JSON.parse(process.env.VELO_TEST_SECRETS ?? '{}');
  if (!Object.hasOwn(all, name)) {
    throw new Error(`Secret not found: ${name}`);
  }
  return { value: all[name] };
}

export const secrets = { getSecretValue };
