// Page code for the page with the "Book now" button.
//
// The page needs two elements (set their IDs in the Properties & Events panel):
//   #bookButton  - the "Book now" button
//   #bookMessage - a text element under it, for messages ("Hidden on load" ticked)
// Change the two lines marked CHANGE and nothing else.

import wixLocationFrontend from 'wix-location-frontend';
import { checkBooking } from 'backend/bookingGate.web';

// CHANGE: the ID of the class this button books (docs/velo.md: "Find the service ID").
const SERVICE_ID = 'PASTE-THE-SERVICE-ID-HERE';
// CHANGE: where members go when they may book: the class's booking calendar.
const BOOKING_URL = '/booking-calendar/PASTE-THE-CLASS-PAGE-NAME-HERE';

const TRY_AGAIN = 'We could not check your booking just now. Please try again in a minute.';

$w.onReady(function () {
  $w('#bookMessage').hide();
  $w('#bookButton').onClick(() => bookNow());
});

async function bookNow() {
  $w('#bookButton').disable();
  $w('#bookMessage').hide();
  let answer = null;
  try {
    answer = await checkBooking(SERVICE_ID);
  } catch (error) {
    // The page could not reach the site's own backend: same as "try again".
    console.error('checkBooking failed', error);
  }
  if (answer && answer.outcome === 'allow') {
    wixLocationFrontend.to(BOOKING_URL);
  } else if (answer && answer.outcome === 'redirect' && answer.location) {
    wixLocationFrontend.to(answer.location);
  } else {
    // "deny", "error" or no answer at all: explain, stay on this page, never the checkout.
    $w('#bookMessage').text = (answer && answer.message) || TRY_AGAIN;
    $w('#bookMessage').show();
    $w('#bookButton').enable();
  }
}
