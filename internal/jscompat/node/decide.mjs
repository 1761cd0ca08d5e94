#!/usr/bin/env node
// decide.mjs: decisions and conversions with the official Optimizely JavaScript SDK
// (@optimizely/optimizely-sdk, pinned in package-lock.json), for internal/jscompat. The SDK
// gets a static datafile and an event dispatcher that records every LogEvent instead of
// sending it; nothing leaves the machine (CMAB predictions come from a loopback server
// this script runs, see "cmab" below).
//
//   node decide.mjs [job.json]        (without an argument the job is read from stdin)
//
// The job, JSON:
//   {
//     "datafile": "path/to/datafile.json",      // or "datafileText": "{...}"
//     "users": [{"userId": "user-1", "attributes": {...}}, ...],
//     "flags": ["flag_a", ...],                  // optional: every flag of the datafile, in order
//     "conversions": [{"userId": "...", "attributes": {...}, "eventKey": "purchase", "tags": {...}}],
//     "mode": "sync",                            // "sync": user.decide(); "async": await user.decideAsync()
//     "cmab": true,                              // async only: answer CMAB predictions (see below)
//     "seed": "jscompat",                        // seeds the uuids the SDK draws
//     "clock": 1772366400000,                    // the SDK's clock (ms) at the start; +1 ms per call
//     "bodies": false                            // also give each LogEvent's request body
//   }
//
// Output on stdout, one JSON object per line, in job order:
//   {"kind":"decision","userId":…,"attributes":…,"flagKey":…,"variationKey":…,"ruleKey":…,
//    "enabled":…,"logEvents":[{"url":…,"httpVerb":"POST","params":{EventBatch}}, …]}
//   (with "bodies": true each LogEvent also has "body": the text the SDK's default
//   dispatcher would POST, JSON.stringify(params), with header content-type: application/json)
//   {"kind":"conversion","userId":…,"attributes":…,"eventKey":…,"tags":…,"logEvents":[…]}
// The last line is {"kind":"done","decisions":N,"conversions":M,"sdkVersion":"6.6.1"}.
//
// Event processing: createForwardingEventProcessor with a dispatcher that records
// {url, httpVerb, params}: the SDK hands it one LogEvent per impression or conversion,
// synchronously, so each call's events are exactly those dispatched during it.
//
// Determinism: the SDK stamps events with new Date() and uuid v4 (uuid's native
// crypto.randomUUID). Both are replaced before the SDK is loaded: Date without arguments
// reads a clock that starts at job.clock and advances 1 ms per decide/track call, and
// randomUUID draws from a counter-mode SHA-256 stream seeded with job.seed (RFC 4122 v4
// bits set). The same job therefore always yields the same output.
//
// CMAB: user.decide() (sync) skips CMAB rules ("CMAB is not supported in sync mode").
// With mode "async" and "cmab": true, the SDK's CMAB client is pointed (its
// cmab.predictionEndpointTemplate option) at a server on 127.0.0.1 that answers each
// prediction with a variation of the rule chosen by a hash of the visitor id, so
// decideAsync() goes through the SDK's real CMAB path (traffic allocation, cache,
// cmab_uuid in the impression's metadata).
//
// Exit status: 0 on success, 1 when the SDK fails (it rejects the datafile, a call
// throws), 2 on bad usage.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

function fail(code, msg) {
  process.stderr.write(`decide.mjs: ${msg}\n`);
  process.exit(code);
}

// ---- the job -------------------------------------------------------------------------

let job;
try {
  const text = process.argv[2] ? readFileSync(process.argv[2], 'utf8') : readFileSync(0, 'utf8');
  job = JSON.parse(text);
} catch (err) {
  fail(2, `reading the job: ${err.message}`);
}
let datafileText = job.datafileText;
if (typeof datafileText !== 'string') {
  if (typeof job.datafile !== 'string') fail(2, 'the job needs "datafile" (a path) or "datafileText"');
  try {
    datafileText = readFileSync(job.datafile, 'utf8');
  } catch (err) {
    fail(2, `reading the datafile: ${err.message}`);
  }
}
const datafile = JSON.parse(datafileText);
const users = job.users ?? [];
const conversions = job.conversions ?? [];
const flags = job.flags ?? (datafile.featureFlags ?? []).map((f) => f.key);
const mode = job.mode ?? 'sync';
if (mode !== 'sync' && mode !== 'async') fail(2, `mode must be sync or async, not ${mode}`);
if (job.cmab && mode !== 'async') fail(2, 'cmab needs mode async');

// ---- determinism: clock and uuids, before the SDK is loaded ----------------------------

let clock = Number.isSafeInteger(job.clock) ? job.clock : Date.UTC(2026, 2, 1, 12, 0, 0);
const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(clock);
    else super(...args);
  }
  static now() {
    return clock;
  }
}
globalThis.Date = FixedDate;

const seed = String(job.seed ?? 'jscompat');
let uuidCounter = 0;
function seededUUID() {
  const b = createHash('sha256').update(`${seed}\0${uuidCounter++}`).digest();
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
// uuid (a dependency of the SDK) calls native.randomUUID from this module; the file URL is
// the one the SDK's import of 'uuid' resolves to, so both share the module instance.
const uuidNative = (await import(new URL('./node_modules/uuid/dist-node/native.js', import.meta.url))).default;
uuidNative.randomUUID = seededUUID;

const sdk = await import('@optimizely/optimizely-sdk');
const sdkVersion = JSON.parse(
  readFileSync(new URL('./node_modules/@optimizely/optimizely-sdk/package.json', import.meta.url), 'utf8'),
).version;

// ---- the CMAB prediction server (loopback only) ----------------------------------------

const cmabRules = new Map(); // rule id -> variation ids
for (const e of [...(datafile.experiments ?? []), ...(datafile.groups ?? []).flatMap((g) => g.experiments ?? [])]) {
  if (e.cmab) cmabRules.set(e.id, (e.variations ?? []).map((v) => v.id));
}

function fnv1a(s) {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(s, 'utf8')) {
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

let server;
let cmabRequests = 0;
let cmabOptions;
if (job.cmab) {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      cmabRequests++;
      const ruleId = decodeURIComponent(req.url.split('/').pop());
      const variations = cmabRules.get(ruleId);
      let visitorId = '';
      try {
        visitorId = JSON.parse(body).instances[0].visitorId;
      } catch {
        // answered with an error below
      }
      if (!variations || variations.length === 0 || typeof visitorId !== 'string') {
        res.writeHead(400).end('{}');
        return;
      }
      const variationId = variations[fnv1a(`${visitorId}\0${ruleId}`) % variations.length];
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ predictions: [{ variation_id: variationId }] }));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  cmabOptions = { predictionEndpointTemplate: `http://127.0.0.1:${server.address().port}/predict/%s` };
}

// ---- the SDK ---------------------------------------------------------------------------

let captured = [];
const dispatcher = {
  dispatchEvent(logEvent) {
    // A deep copy: what the SDK dispatched at that moment.
    const body = JSON.stringify(logEvent.params);
    const le = { url: logEvent.url, httpVerb: logEvent.httpVerb, params: JSON.parse(body) };
    if (job.bodies) le.body = body;
    captured.push(le);
    return Promise.resolve({ statusCode: 200 });
  },
};

let client;
try {
  client = sdk.createInstance({
    projectConfigManager: sdk.createStaticProjectConfigManager({ datafile: datafileText }),
    eventProcessor: sdk.createForwardingEventProcessor(dispatcher),
    ...(cmabOptions ? { cmab: cmabOptions } : {}),
  });
} catch (err) {
  fail(1, `createInstance: ${err.message}`);
}
try {
  await client.onReady({ timeout: 10000 });
} catch (err) {
  fail(1, `the SDK is not ready (does it reject the datafile?): ${err.message}`);
}

// ---- output with back-pressure --------------------------------------------------------

let pending = [];
let pendingBytes = 0;
async function emit(obj) {
  const line = JSON.stringify(obj) + '\n';
  pending.push(line);
  pendingBytes += line.length;
  if (pendingBytes >= 1 << 20) await flush();
}
async function flush() {
  if (pending.length === 0) return;
  const chunk = pending.join('');
  pending = [];
  pendingBytes = 0;
  if (!process.stdout.write(chunk)) {
    await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
}

// ---- decisions -------------------------------------------------------------------------

let decisions = 0;
for (const u of users) {
  const user = client.createUserContext(u.userId, u.attributes ?? undefined);
  for (const flagKey of flags) {
    captured = [];
    let d;
    try {
      d = mode === 'async' ? await user.decideAsync(flagKey) : user.decide(flagKey);
    } catch (err) {
      fail(1, `decide(${u.userId}, ${flagKey}): ${err.message}`);
    }
    if (d.reasons && d.reasons.length > 0 && d.variationKey === null) {
      // Reasons are only filled for errors without INCLUDE_REASONS.
      fail(1, `decide(${u.userId}, ${flagKey}) failed: ${d.reasons.join('; ')}`);
    }
    clock++;
    decisions++;
    await emit({
      kind: 'decision',
      userId: u.userId,
      attributes: u.attributes ?? null,
      flagKey,
      variationKey: d.variationKey,
      ruleKey: d.ruleKey,
      enabled: d.enabled,
      logEvents: captured,
    });
  }
}

// ---- conversions -----------------------------------------------------------------------

let tracked = 0;
for (const c of conversions) {
  const user = client.createUserContext(c.userId, c.attributes ?? undefined);
  captured = [];
  try {
    if (c.tags === undefined || c.tags === null) user.trackEvent(c.eventKey);
    else user.trackEvent(c.eventKey, c.tags);
  } catch (err) {
    fail(1, `trackEvent(${c.userId}, ${c.eventKey}): ${err.message}`);
  }
  clock++;
  tracked++;
  await emit({
    kind: 'conversion',
    userId: c.userId,
    attributes: c.attributes ?? null,
    eventKey: c.eventKey,
    tags: c.tags ?? null,
    logEvents: captured,
  });
}

await emit({ kind: 'done', decisions, conversions: tracked, cmabRequests, sdkVersion });
await flush();
await client.close();
if (server) server.close();
