// Loads the page code with a stand-in $w, clicks "Book now" once and prints one JSON line:
// { navigations, message: { text, hidden }, buttonEnabled, fetches }.
const elements = {
  '#bookButton': { enabled: true, handlers: [] },
  '#bookMessage': { text: '', hidden: false },
};
const ready = [];

function element(selector) {
  const el = elements[selector];
  if (el === undefined) {
    throw new Error(`the page has no element ${selector}`);
  }
  return {
    get text() { return el.text; },
    set text(value) { el.text = value; },
    show() { el.hidden = false; return Promise.resolve(); },
    hide() { el.hidden = true; return Promise.resolve(); },
    enable() { el.enabled = true; return Promise.resolve(); },
    disable() { el.enabled = false; return Promise.resolve(); },
    onClick(handler) { el.handlers.push(handler); },
  };
}

globalThis.$w = Object.assign(element, { onReady(callback) { ready.push(callback); } });

await import('./page.js');
for (const callback of ready) {
  await callback();
}
const button = elements['#bookButton'];
if (button.handlers.length !== 1) {
  throw new Error(`expected one click handler on #bookButton, found ${button.handlers.length}`);
}
await button.handlers[0]({ target: button });

const state = globalThis.__velo ?? { navigations: [], fetches: [] };
const message = elements['#bookMessage'];
process.stdout.write(`${JSON.stringify({
  navigations: state.navigations,
  message: { text: message.text, hidden: message.hidden },
  buttonEnabled: button.enabled,
  fetches: state.fetches,
})}\n`);
process.exit(0);
