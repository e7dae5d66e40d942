// A request handler under heavy short-lived garbage (about 60 KB per request),
// driven by its own timer at --rate requests a second.
//   node server.js --rate 150 --warm-kb 7 --retain 0     (no leak)
//   node server.js --rate 150 --warm-kb 7 --retain 700   (keeps a 700-byte string per request forever)
// For the first --warm-secs seconds (default 60) it also fills a warm-up cache
// (--warm-kb KiB per request, ~60 MiB here), dropped at --warm-secs: the heap
// grows, then a later full GC compacts it and V8 gives the pages back (RSS
// falls once). Each response is also kept in a ring of --recent entries with a
// --recent-kb array, so it is promoted and dies in the old space (a sawtooth).
// --onset S: keep nothing per request for the first S seconds.
'use strict';
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const rate = opt('--rate', 150);
const retain = opt('--retain', 0);          // bytes kept per request, forever
const warmSecs = opt('--warm-secs', 60);
const warmKb = opt('--warm-kb', 4);
const recentN = opt('--recent', 3000);      // recent responses kept briefly (promoted, then die)
const recentKb = opt('--recent-kb', 2);
const onset = opt('--onset', 0);

const leaked = [];        // the leak: one record per request, never removed
let warmCache = new Map(); // warm-up cache, dropped at warmSecs
const recent = new Array(recentN);
let served = 0;
const t0 = Date.now();

function handle(id) {
  // Parse a request and build a response: lots of short-lived objects.
  const items = [];
  for (let i = 0; i < 300; i++) {
    items.push({ id: id * 1000 + i, name: 'item-' + i + '-' + id, tags: ['a' + (i % 7), 'b' + (i % 11)], price: i * 1.5 });
  }
  const body = JSON.stringify({ id, items });
  const parsed = JSON.parse(body);
  // the response is kept in a ring of recent ones for a while (a 2 KB array):
  // it outlives a few scavenges, is promoted, then dies in the old space
  const summary = { id, n: parsed.items.length, len: body.length, trace: new Array(recentKb * 128).fill(id) };
  recent[id % recentN] = summary;            // lives a while, then is replaced
  const elapsed = (Date.now() - t0) / 1000;
  if (warmCache && elapsed < warmSecs) {
    warmCache.set(id, new Array(warmKb * 128).fill(id)); // warmKb KiB of heap
  } else if (warmCache) {
    warmCache = null;                         // warm-up over: the cache goes
  }
  if (retain > 0 && elapsed >= onset) {
    // a flat (sequential) string of `retain` bytes: really that much heap
    leaked.push({ id, at: Date.now(), note: Buffer.alloc(retain, 'r' + id).toString('latin1') });
  }
  return summary;
}

const tickMs = 20;
let due = 0;
setInterval(() => {
  due += rate * tickMs / 1000;
  while (due >= 1) { handle(served++); due -= 1; }
}, tickMs);
process.on('SIGTERM', () => process.exit(0));
