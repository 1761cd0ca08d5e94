// Runs vwo-node-sdk (the version package-lock.json pins) over a job of SDK calls and prints,
// as JSON lines on stdout, what each call returned and every batch-events request the SDK
// would have sent. The second ground truth of ../nodecompare_test.go.
//
//   node decide.js job.json
//
// The job:
//
//   {
//     "settingsFile": "../testdata/node/basic.json",   // relative to the job file
//     "clock": 1700000000500,          // optional: Date is frozen at this epoch-ms
//     "eventsPerRequest": 100,         // batch size (a request goes out when the queue holds this many)
//     "users": [{"id": "Alice", "customVariables": {...}, "variationTargetingVariables": {...}}],
//     "calls": [
//       {"call": "activate",         "campaign": "ab",  "user": "Alice"},
//       {"call": "getVariationName", "campaign": "ft",  "user": "Alice"},
//       {"call": "isFeatureEnabled", "campaign": "ft",  "user": "Alice"},
//       {"call": "track", "campaign": "ab" | ["ab", "ft"] | null, "user": "Alice", "goal": "purchase",
//        "options": {"revenueValue": 12.5, "goalTypeToTrack": "REVENUE_TRACKING"}},
//       {"call": "push", "user": "Alice", "tagKey": "plan", "tagValue": "gold"}
//     ]
//   }
//
// A user's customVariables and variationTargetingVariables go with every call made for
// that user except push. The SDK runs with batch events (isDevelopmentMode false) and no
// user storage, so no decision is sticky. https.request is replaced by a stub that records
// each request and answers 200 {"message":"success"}: nothing leaves the machine.
//
// Output lines, in order:
//   {"type":"sdk","name":"vwo-node-sdk","version":"1.73.0"}
//   {"type":"call","i":0,"call":"activate","args":["ab","Alice",{...}],"userId":"Alice",
//    "result":"Control","ts":1700000000500,"first":0,"events":1,"errors":[],"decisions":[...]}
//     first/events: the call's events are ev[first .. first+events) of the concatenated
//     bodies of the requests below; errors: what the SDK logged at ERROR level meanwhile;
//     decisions: what its integrations hook reported (campaignKey, variationName,
//     isFeatureEnabled, isUserWhitelisted, groupId).
//   {"type":"request","method":"POST","host":"...","path":"...","query":"...","header":{...},"body":"..."}
'use strict';
const fs = require('fs');
const path = require('path');
const https = require('https');
const { EventEmitter } = require('events');

const jobPath = process.argv[2];
if (!jobPath) {
  process.stderr.write('usage: node decide.js job.json\n');
  process.exit(2);
}
const job = JSON.parse(fs.readFileSync(jobPath, 'utf8'));

// The SDK prints some notices with console.info: stdout is for the JSON lines only.
for (const k of ['log', 'info', 'warn', 'debug']) {
  console[k] = (...a) => process.stderr.write(a.join(' ') + '\n');
}

if (job.clock !== undefined) {
  const RealDate = Date;
  const clock = job.clock;
  class FrozenDate extends RealDate {
    constructor(...a) {
      if (a.length === 0) super(clock);
      else super(...a);
    }
    static now() {
      return clock;
    }
  }
  global.Date = FrozenDate;
}

const vwoSdk = require('vwo-node-sdk');
const sdkVersion = require('vwo-node-sdk/package.json').version;

const out = [];
function emit(o) {
  out.push(JSON.stringify(o));
}

// Every request the SDK makes, recorded; the answer is a 200 success.
const requests = [];
https.request = (options, cb) => {
  const req = new EventEmitter();
  const chunks = [];
  req.write = d => {
    chunks.push(Buffer.isBuffer(d) ? d.toString('utf8') : String(d));
    return true;
  };
  req.setTimeout = () => req;
  req.end = d => {
    if (d !== undefined) req.write(d);
    const [p, q] = String(options.path).split(/\?(.*)/s);
    const header = {};
    for (const [k, v] of Object.entries(options.headers || {})) header[k] = [String(v)];
    requests.push({
      type: 'request',
      method: options.method || 'GET',
      host: options.hostname || options.host,
      path: p,
      query: q || '',
      header,
      body: chunks.join('')
    });
    setImmediate(() => {
      const res = new EventEmitter();
      res.statusCode = 200;
      res.headers = { 'content-type': 'application/json' };
      res.setEncoding = () => {};
      if (cb) cb(res);
      res.emit('data', '{"message":"success"}');
      res.emit('end');
    });
  };
  return req;
};
https.get = (options, cb) => {
  const req = https.request(options, cb);
  req.end();
  return req;
};

let errors = [];
let decisions = [];
const logger = {
  log(level, message) {
    if (level >= vwoSdk.LogLevelEnum.ERROR) errors.push(String(message));
  }
};

const settingsFile = JSON.parse(fs.readFileSync(path.resolve(path.dirname(jobPath), job.settingsFile), 'utf8'));
const client = vwoSdk.launch({
  settingsFile,
  isDevelopmentMode: false,
  batchEvents: {
    eventsPerRequest: job.eventsPerRequest || 100,
    requestTimeInterval: 3600,
    flushCallback: () => {}
  },
  logging: { logger, level: vwoSdk.LogLevelEnum.ERROR },
  // The decisions the SDK made during a call (its integrations hook), for the report.
  integrations: {
    callback: d =>
      decisions.push({
        campaignKey: d.campaignKey,
        variationName: d.variationName === undefined ? null : d.variationName,
        isFeatureEnabled: d.isFeatureEnabled,
        isUserWhitelisted: d.isUserWhitelisted,
        groupId: d.groupId === undefined ? null : d.groupId
      })
  }
});
if (!client || !client.batchEventsQueue) {
  process.stderr.write('the SDK refused the settings file: ' + errors.join('; ') + '\n');
  process.exit(1);
}

// Events are attributed to the call that queued them.
let queued = 0;
const enqueue = client.batchEventsQueue.enqueue.bind(client.batchEventsQueue);
client.batchEventsQueue.enqueue = event => {
  queued++;
  enqueue(event);
};

const users = new Map((job.users || []).map(u => [u.id, u]));
function userOptions(userId) {
  const u = users.get(userId) || {};
  const o = {};
  if (u.customVariables) o.customVariables = u.customVariables;
  if (u.variationTargetingVariables) o.variationTargetingVariables = u.variationTargetingVariables;
  return o;
}

emit({ type: 'sdk', name: 'vwo-node-sdk', version: sdkVersion });
job.calls.forEach((c, i) => {
  let args;
  let result;
  const first = queued;
  const ts = Date.now();
  errors = [];
  decisions = [];
  switch (c.call) {
    case 'activate':
    case 'getVariationName':
    case 'isFeatureEnabled':
      args = [c.campaign, c.user, userOptions(c.user)];
      result = client[c.call](...args);
      break;
    case 'track': {
      const options = Object.assign(userOptions(c.user), c.options || {});
      args = [c.campaign === undefined ? null : c.campaign, c.user, c.goal, options];
      result = client.track(...args);
      break;
    }
    case 'push':
      args = [c.tagKey, c.tagValue, c.user];
      result = client.push(...args);
      break;
    default:
      throw new Error('unknown call ' + c.call);
  }
  emit({
    type: 'call',
    i,
    call: c.call,
    args,
    userId: c.user,
    result: result === undefined ? null : result,
    ts,
    first,
    events: queued - first,
    errors,
    decisions
  });
});

client.flushEvents().then(() => {
  let n = 0;
  for (const r of requests) {
    if (r.path.endsWith('/server-side/batch-events')) n += JSON.parse(r.body).ev.length;
    out.push(JSON.stringify(r));
  }
  if (n !== queued) {
    process.stderr.write(`the SDK queued ${queued} events but sent ${n}\n`);
    process.exitCode = 1;
  }
  process.stdout.write(out.join('\n') + '\n');
});
