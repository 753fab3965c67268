// Calls the web module's checkBooking the way a page would, then prints one JSON line:
// { answer, permission, fetches }. Arguments: a JSON array of what the page passes.
import { checkBooking } from 'backend/bookingGate.web';

const args = JSON.parse(process.argv[2] ?? '[]');
const answer = await checkBooking(...args);
const { fetches } = globalThis.__velo ?? { fetches: [] };
process.stdout.write(`${JSON.stringify({ answer, permission: checkBooking.permission, fetches })}\n`);
// A request still hanging after a timeout must not keep Node running.
process.exit(0);
