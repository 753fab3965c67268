// backend/bookingGate.web.js
//
// Asks booking-gate whether the person clicking "Book now" can pay for the class,
// before they reach the checkout. Paste this whole file, unchanged, into a new web
// module named bookingGate.web.js (docs/velo.md says where). The gate's address and
// its secret are read from the Secrets Manager, so nothing here needs editing.
//
// What the page gets back is only { outcome, location, message }:
//   outcome "allow"    -> the page opens the booking calendar
//   outcome "redirect" -> the page sends them to `location` (plans page, sign-in page)
//   outcome "deny"     -> the page shows `message`, for example "Your plan is paused..."
//   outcome "error"    -> the gate could not answer; the page shows `message`
//                         ("try again") and never opens the checkout.

import { Permissions, webMethod } from 'wix-web-module';
import { fetch } from 'wix-fetch';
import { secrets } from 'wix-secrets-backend.v2';
import { elevate } from 'wix-auth';
import { currentMember } from 'wix-members-backend';

// The names of the two secrets in Developer Tools -> Secrets Manager.
const SECRET_NAME = 'BOOKING_GATE_API_SECRET';
const URL_NAME = 'BOOKING_GATE_URL';

// How long to wait for the gate before giving up, in milliseconds.
const TIMEOUT_MS = 5000;

const TRY_AGAIN = 'We could not check your booking just now. Please try again in a minute.';
const NOT_BOOKABLE = 'This class cannot be booked right now.';

// Reading a secret needs elevated permissions (Wix docs: getSecretValue()).
const getSecretValue = elevate(secrets.getSecretValue);

// Anyone may call this: signed-out visitors must get their "please sign in" answer too.
// It only ever answers for the person who is calling it.
export const checkBooking = webMethod(Permissions.Anyone, async (serviceId) => {
  try {
    return await askTheGate(serviceId);
  } catch (error) {
    // Fail closed: no clear answer from the gate means no checkout.
    console.error(`booking-gate: no decision, showing "try again": ${describe(error)}`);
    return { outcome: 'error', location: null, message: TRY_AGAIN };
  }
});

async function askTheGate(serviceId) {
  if (typeof serviceId !== 'string' || serviceId.length === 0 || serviceId.length > 200) {
    throw new Error('the page did not send a service id');
  }
  const endpoint = decisionsUrl(await readSecret(URL_NAME));
  const apiSecret = await readSecret(SECRET_NAME);

  // Who is asking comes from Wix, on the server. The page is never asked who it is.
  const question = { serviceId };
  const memberId = await signedInMemberId();
  if (memberId) {
    question.memberId = memberId;
  }
  const decision = await withTimeout(post(endpoint, apiSecret, question));
  return forThePage(decision);
}

async function post(endpoint, apiSecret, question) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Authorization': `Bearer ${apiSecret}`,
      'Content-Type': 'application/json',
    },
    body: JSON.stringify(question),
  });
  // wix-fetch resolves for 4xx and 5xx answers too, so the status must be checked.
  if (response.status !== 200) {
    const hint = response.status === 401 ? ` (check the ${SECRET_NAME} secret)` : '';
    throw new Error(`the gate answered HTTP ${response.status}${hint}`);
  }
  return response.json();
}

// Only what the page needs: never the secret, the member id or the gate's details.
function forThePage(decision) {
  const outcome = decision ? decision.outcome : undefined;
  if (outcome === 'allow') {
    return { outcome: 'allow', location: null, message: null };
  }
  if (outcome === 'redirect' && isSafeLocation(decision.location)) {
    return { outcome: 'redirect', location: decision.location, message: text(decision.message) };
  }
  if (outcome === 'deny') {
    const fallback = decision.status >= 500 ? TRY_AGAIN : NOT_BOOKABLE;
    return { outcome: 'deny', location: null, message: text(decision.message) || fallback };
  }
  throw new Error(`the gate's answer has no usable outcome: ${JSON.stringify(outcome)}`);
}

async function signedInMemberId() {
  let member;
  try {
    member = await currentMember.getMember();
  } catch (error) {
    // Wix's backend getMember() throws when nobody is logged in: a visitor.
    return null;
  }
  return member && typeof member._id === 'string' && member._id ? member._id : null;
}

async function readSecret(name) {
  const answer = await getSecretValue(name);
  // Documented to resolve to { value }; a plain string is accepted as well.
  const value = typeof answer === 'string' ? answer : answer && answer.value;
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error(`the secret ${name} is missing or empty`);
  }
  return value.trim();
}

function decisionsUrl(gateUrl) {
  const base = gateUrl.replace(/\/+$/, '');
  // The secret travels with every request, so it only goes over HTTPS
  // (plain http is accepted for a gate on this same computer, when testing).
  const local = /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/.test(base);
  if (!base.startsWith('https://') && !local) {
    throw new Error(`the ${URL_NAME} secret must start with https://`);
  }
  return `${base}/v1/decisions`;
}

function isSafeLocation(location) {
  if (typeof location !== 'string') {
    return false;
  }
  const onThisSite = location.startsWith('/') && !location.startsWith('//')
    && !location.startsWith('/\\');
  return onThisSite || location.startsWith('https://');
}

function withTimeout(promise) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the gate did not answer within ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function text(value) {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function describe(error) {
  return error && error.message ? error.message : String(error);
}
