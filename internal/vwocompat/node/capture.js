// Captures vwo-node-sdk's batch-events requests, the way ../capture_test.go does for
// the Go SDK: https.request is redirected to a local HTTP server that records each
// request as it arrives (method, path, query, headers, body).
//
//   bash install.sh     # vwo-node-sdk as package-lock.json pins it, in ./node_modules
//   node capture.js ../../eventsapi/testdata [scenario,...]
//
// Without scenario names every scenario is captured (and its file rewritten). Scenarios
// marked batch: false run the SDK without batchEvents: track() with a list of campaigns or
// null, and push() with a map, then send their own batch-events request at once.
//
// Nothing here is part of the exporter's build.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const vwoSdk = require('vwo-node-sdk');
const sdkVersion = require('vwo-node-sdk/package.json').version;

const outDir = process.argv[2];
const settings = JSON.parse(fs.readFileSync(path.join(__dirname, '../testdata/settings.json'), 'utf8'));

const received = [];
let waiters = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', c => (body += c));
  req.on('end', () => {
    const u = new URL(req.url, 'http://x');
    const header = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      (header[req.rawHeaders[i]] = header[req.rawHeaders[i]] || []).push(req.rawHeaders[i + 1]);
    }
    received.push({
      sdk: 'vwo-node-sdk',
      sdk_version: sdkVersion,
      method: req.method,
      host: req.headers.host,
      path: u.pathname,
      query: u.search.slice(1),
      header,
      body
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{"message":"success"}');
    const w = waiters;
    waiters = [];
    w.forEach(f => f());
  });
});

function nextRequest() {
  if (received.length) return Promise.resolve(received.shift());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for a request')), 10000);
    waiters.push(() => {
      clearTimeout(t);
      resolve(received.shift());
    });
  });
}

server.listen(0, '127.0.0.1', async () => {
  const port = server.address().port;
  https.request = (options, cb) => {
    if (options.hostname !== 'dev.visualwebsiteoptimizer.com') throw new Error('unexpected host ' + options.hostname);
    const headers = Object.assign({ Host: options.hostname }, options.headers);
    return http.request(Object.assign({}, options, { hostname: '127.0.0.1', host: undefined, port, headers }), cb);
  };

  const scenarios = [
    ['activate', c => {
      c.activate('checkout_button', 'Alice');
      c.activate('checkout_button', 'Varun');
    }],
    ['feature_test_impression', c => {
      c.isFeatureEnabled('new_search', 'Alice');
    }],
    ['track_custom_goal', c => {
      c.track('checkout_button', 'Alice', 'signup');
      c.track('new_search', 'Alice', 'signup', { revenueValue: 10 });
    }],
    ['track_revenue_goal', c => {
      c.track('checkout_button', 'Alice', 'purchase', { revenueValue: 100 });
      c.track('checkout_button', 'Varun', 'purchase', { revenueValue: 12.5 });
      c.track('checkout_button', '__123__', 'purchase', { revenueValue: '7.25' });
      c.track('new_search', 'We@#dcs3232.f3', 'purchase', { revenueValue: 19.99 });
    }],
    ['push', c => {
      c.push('plan', 'gold', 'Alice');
      c.push('home city', 'São Paulo/Zürich & co+1', 'Alice');
    }],
    ['visitor_ua_ip', c => {
      c.activate('checkout_button', 'Alice', { userAgent: 'Mozilla/5.0 (X11)', userIpAddress: '203.0.113.7' });
      c.track('checkout_button', 'Alice', 'purchase', { revenueValue: 5, userAgent: 'Mozilla/5.0 (X11)', userIpAddress: '203.0.113.7' });
    }],
    ['mixed_eu', c => {
      c.activate('checkout_button', 'Alice');
      c.track('checkout_button', 'Alice', 'purchase', { revenueValue: 49 });
      c.track('checkout_button', 'Alice', 'signup');
      c.push('plan', 'gold', 'Alice');
    }, 'eu01'],
    // Without batchEvents: a goal tracked in several campaigns goes out as one batch-events
    // request of its own, which the SDK builds with its arguments shifted (track.js:587):
    // visitor_ua carries the userIpAddress and visitor_ip is "".
    ['track_global_goal', c => {
      c.track(null, 'Alice', 'purchase', { revenueValue: 12.5 });
    }, '', false],
    ['track_campaign_list_ua_ip', c => {
      c.track(['checkout_button', 'new_search', 'paused_banner'], 'Varun', 'signup', {
        userAgent: 'Mozilla/5.0 (X11)',
        userIpAddress: '203.0.113.7'
      });
    }, '', false],
    // Without batchEvents, push() with a map of several dimensions sends them as one
    // batch-events request (push.js:169).
    ['push_map', c => {
      c.push({ plan: 'gold', 'home city': 'São Paulo' }, 'Alice');
    }, '', false]
  ];
  const only = process.argv[3] ? process.argv[3].split(',') : null;
  try {
    for (const [name, run, prefix, batch = true] of scenarios) {
      if (only && !only.includes(name)) continue;
      const sf = JSON.parse(JSON.stringify(settings));
      if (prefix) sf.collectionPrefix = prefix;
      const client = vwoSdk.launch({
        settingsFile: sf,
        batchEvents: batch ? { eventsPerRequest: 100, requestTimeInterval: 600 } : undefined,
        logging: { level: vwoSdk.LogLevelEnum.ERROR }
      });
      run(client);
      if (batch) client.flushEvents();
      const c = await nextRequest();
      c.scenario = name;
      const ordered = {};
      ['sdk', 'sdk_version', 'scenario', 'method', 'host', 'path', 'query', 'header', 'body'].forEach(k => (ordered[k] = c[k]));
      console.log(JSON.stringify(ordered));
      if (outDir) fs.writeFileSync(path.join(outDir, `vwo_node_${name}.json`), JSON.stringify(ordered, null, 2) + '\n');
    }
  } catch (e) {
    console.error(e);
    process.exitCode = 1;
  }
  server.close();
  process.exit();
});
