#!/usr/bin/env node
// emit.mjs: a real Node.js app for the end-to-end tests. It evaluates feature flags with
// the OpenFeature server SDK, the OpenFeature OpenTelemetry EventHook turns every
// evaluation into an OTel log record, and the OTel JS logs SDK exports them over OTLP/HTTP
// to the collector: what a Node.js user of this exporter runs.
//
//   node emit.mjs --otlp http://127.0.0.1:4318 --evaluations expect.jsonl \
//        [--conversions] [--attributes] [--protocol http/protobuf|http/json]
//
// The evaluations file has one JSON object per line; only "user", "flag" and
// "variation_key" are read, e.g. {"user":"user-3","flag":"checkout_redesign","variation_key":"treatment"}.
// A line whose variation_key is empty (the SDK decided no variation) is skipped.
// The app sets the real InMemoryProvider with one flag per flag key of the file (variants:
// every variation key seen for that flag, value = the key itself; a contextEvaluator that
// answers the line's variation key for context.targetingKey), then calls, for each line in
// order, await client.getStringValue(flag, 'default', {targetingKey: user}).
//
// --attributes sends the visitor attributes, as the README shows Node.js apps how to: each
// line's "attributes" object (required then, e.g. {"age":30,"country":"DE","is_vip":true})
// goes into the evaluation context, getStringValue(flag, 'default', {targetingKey: user,
// ...attributes}), and the EventHook is created with an attributeMapper that copies the
// evaluation context, without targetingKey, to the record as one map attribute:
//   new EventHook({
//     attributeMapper: ({ context: { targetingKey, ...attributes } }) => ({
//       'experiment.visitor.attributes': attributes,
//     }),
//   })
// The logs SDK keeps the nested object as a map value (OTLP kvlist_value; JSON numbers
// that are integers become int_value, others double_value) over both --protocol values,
// and the exporter evaluates the datafile's audiences on it: no rule is guessed. The hook
// swallows an attributeMapper that throws (a diag debug message only): the record then
// simply lacks the attribute. Without --attributes the context is {targetingKey} alone.
//
// --protocol picks the OTLP exporter package: http/protobuf (the default, the OTLP spec's
// default) is @opentelemetry/exporter-logs-otlp-proto; http/json is
// @opentelemetry/exporter-logs-otlp-http, which in JS sends JSON (Content-Type
// application/json), not protobuf. Both POST to <otlp>/v1/logs.
//
// What arrives at the collector (seen on the wire with @openfeature/open-telemetry-hooks
// 1.0.0, @openfeature/server-sdk 1.23.0 / core 1.12.0, OTel JS api-logs/sdk-logs 0.205.0):
//
// Resource: service.name=e2e-nodeclient, plus the SDK's defaults telemetry.sdk.language=nodejs,
// telemetry.sdk.name=opentelemetry, telemetry.sdk.version=2.1.0. Both --protocol values
// carry the same records; only the encoding differs.
//
// One record per evaluation, scope "@openfeature/open-telemetry-hooks" version "1.0.0",
// emitted by EventHook.finally() as logger.emit({eventName, attributes}):
//   - LogRecord.event_name = "feature_flag.evaluation" (the OTLP field, not an attribute;
//     no "event.name" attribute)
//   - time_unix_nano and observed_time_unix_nano: the emit time (the hook sets no
//     timestamp; the SDK fills both with Date.now(), millisecond precision)
//   - no body, no severity, no trace/span id (no active span here)
//   - attributes (all strings), from @openfeature/core createEvaluationEvent():
//       feature_flag.key            the flag key, e.g. "checkout_redesign"
//       feature_flag.provider.name  "in-memory" (the provider's metadata.name)
//       feature_flag.result.reason  lower-cased reason: "targeting_match" here
//                                   ("static" without a contextEvaluator, "error" on error)
//       feature_flag.result.variant the variant key, e.g. "treatment" (only if the provider
//                                   returned a variant)
//       feature_flag.result.value   the resolved value, here the same string as the variant
//                                   (JSON text for object values; absent only for null)
//       feature_flag.context.id     the evaluation context's targetingKey, e.g. "user-3"
//                                   (flagMetadata["contextId"] wins if a provider sets it)
//     only when the provider's flagMetadata carries them (InMemoryProvider does not):
//       feature_flag.set.id, feature_flag.version
//     only when the reason is ERROR: error.type (lower-cased error code, e.g.
//       "flag_not_found") and error.message; feature_flag.result.value is then the
//       caller's default and there is no variant
//   The hook adds nothing else: no rule key, no rule type, no event.id, no experiment.*
//   (with --attributes, the attributeMapper's experiment.visitor.attributes).
//   On an evaluation error, before that record, it emits one with event_name "exception"
//   and attributes exception.type (e.g. "FLAG_NOT_FOUND"), exception.message and
//   exception.stacktrace. (This script exits 1 on any evaluation that errs.)
//
// With --conversions, one record per distinct user, in order of first appearance, from
// this app's own logger (scope "e2e-nodeclient"), the way an app reports a conversion:
//   logger.emit({eventName: 'experiment.conversion', timestamp: Date.now(), attributes: {
//     'user.id': user, 'experiment.event.key': 'purchase', 'experiment.revenue': 4200}})
//   - LogRecord.event_name = "experiment.conversion" (api-logs 0.205 LogRecord has eventName)
//   - experiment.revenue is an int attribute (4200), the others strings
//
// The logger provider is registered globally with logs.setGlobalLoggerProvider() from
// @opentelemetry/api-logs before the hook is created: the hook gets its logger from that
// global. The hook pins api-logs ^0.205.0 (so 0.205.x only) and the logs SDK 0.205 needs
// @opentelemetry/api < 1.10; newer SDK lines (sdk-logs 3.x, api-logs 0.2xx > 0.205) are
// not what the hook was built against (npm refuses that mix without --legacy-peer-deps),
// which is why every version is pinned here. Beware too that from sdk-logs 3.x the
// processors take an options object (new BatchLogRecordProcessor({exporter, ...})): the
// 0.2xx call new BatchLogRecordProcessor(exporter) there leaves the exporter undefined,
// and every record is lost with only an OTel diag error, invisible without a diag logger.
//
// Exit status: 0 when every record was handed to the exporter and every export succeeded;
// 1 on any export failure, any record that never reached the exporter (e.g. dropped by
// a full queue), any OTel diag error, or any evaluation that did not return the
// expected variation; 2 on bad usage.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { diag, DiagLogLevel } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as OTLPJSONLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OTLPProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { OpenFeature, InMemoryProvider } from '@openfeature/server-sdk';
import { EventHook } from '@openfeature/open-telemetry-hooks';

function usage(msg) {
  if (msg) console.error(`emit.mjs: ${msg}`);
  console.error('usage: node emit.mjs --otlp http://127.0.0.1:PORT --evaluations file.jsonl [--conversions] [--attributes] [--protocol http/protobuf|http/json]');
  process.exit(2);
}

let args;
try {
  args = parseArgs({
    options: {
      otlp: { type: 'string' },
      evaluations: { type: 'string' },
      conversions: { type: 'boolean', default: false },
      attributes: { type: 'boolean', default: false },
      protocol: { type: 'string', default: 'http/protobuf' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  usage(err.message);
}
if (args.help) usage();
if (!args.otlp) usage('--otlp is required');
if (!args.evaluations) usage('--evaluations is required');
if (args.protocol !== 'http/protobuf' && args.protocol !== 'http/json') {
  usage(`--protocol must be http/protobuf or http/json, not ${args.protocol}`);
}

// ---- the evaluations ------------------------------------------------------------------

const evaluations = []; // {user, flag, variation, attributes}
const decided = new Map(); // flag -> Map(user -> variation key)
const users = []; // distinct users, in order of first appearance
const seenUsers = new Set();
let skipped = 0;
{
  const text = readFileSync(args.evaluations, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) {
    n++;
    if (line.trim() === '') continue;
    let o;
    try {
      o = JSON.parse(line);
    } catch (err) {
      console.error(`emit.mjs: ${args.evaluations}:${n}: ${err.message}`);
      process.exit(2);
    }
    const { user, flag, variation_key: variation, attributes } = o;
    if (typeof user !== 'string' || user === '' || typeof flag !== 'string' || flag === '') {
      console.error(`emit.mjs: ${args.evaluations}:${n}: "user" and "flag" must be non-empty strings`);
      process.exit(2);
    }
    if (args.attributes && (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes))) {
      console.error(`emit.mjs: ${args.evaluations}:${n}: --attributes needs an "attributes" object on every line`);
      process.exit(2);
    }
    if (typeof variation !== 'string' || variation === '') {
      skipped++;
      continue;
    }
    if (!decided.has(flag)) decided.set(flag, new Map());
    const byUser = decided.get(flag);
    if (byUser.has(user) && byUser.get(user) !== variation) {
      console.error(`emit.mjs: ${args.evaluations}:${n}: ${user} has two variations of ${flag}: ${byUser.get(user)} and ${variation}`);
      process.exit(2);
    }
    byUser.set(user, variation);
    evaluations.push({ user, flag, variation, attributes: args.attributes ? attributes : {} });
    if (!seenUsers.has(user)) {
      seenUsers.add(user);
      users.push(user);
    }
  }
}
const conversions = args.conversions ? users.length : 0;
const wantRecords = evaluations.length + conversions;

// ---- OpenTelemetry logs SDK -------------------------------------------------------------

let diagErrors = 0;
diag.setLogger(
  {
    error: (...a) => { if (++diagErrors <= 5) console.error('otel error:', ...a); },
    warn: (...a) => console.error('otel warn:', ...a),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  },
  DiagLogLevel.WARN,
);

// checkedExporter passes every batch to the OTLP exporter and remembers what came back:
// the SDK's processors only report a failed export to diag, and a full queue drops
// records without any report at all.
const exportFailures = [];
let exported = 0;
function checkedExporter(inner) {
  return {
    export(records, done) {
      inner.export(records, (result) => {
        if (result.code === 0) { // ExportResultCode.SUCCESS
          exported += records.length;
        } else {
          exportFailures.push(`${records.length} records: ${result.error?.message ?? `code ${result.code}`}`);
        }
        done(result);
      });
    },
    forceFlush: () => (inner.forceFlush ? inner.forceFlush() : Promise.resolve()),
    shutdown: () => inner.shutdown(),
  };
}

const url = `${args.otlp.replace(/\/+$/, '')}/v1/logs`;
const Exporter = args.protocol === 'http/json' ? OTLPJSONLogExporter : OTLPProtoLogExporter;
const batchSize = 512;
// forceFlush() hands every queued batch to the exporter at once, and the OTLP exporter
// fails (not queues) an export beyond its concurrencyLimit (default 30): allow them all.
const exporter = checkedExporter(new Exporter({
  url,
  timeoutMillis: 30000,
  concurrencyLimit: Math.ceil(wantRecords / batchSize) + 30,
}));
const provider = new LoggerProvider({
  resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'e2e-nodeclient' })),
  processors: [
    new BatchLogRecordProcessor(exporter, {
      maxQueueSize: wantRecords + 2048, // never full: a full queue drops records silently
      maxExportBatchSize: batchSize,
      scheduledDelayMillis: 100,
      exportTimeoutMillis: 60000,
    }),
  ],
});
// Global, before the hook exists: EventHook calls logs.getLogger() in its constructor.
logs.setGlobalLoggerProvider(provider);

// ---- OpenFeature -------------------------------------------------------------------------

const flags = {};
for (const [flag, byUser] of decided) {
  const keys = [...new Set(byUser.values())];
  flags[flag] = {
    variants: Object.fromEntries(keys.map((k) => [k, k])),
    defaultVariant: keys[0],
    disabled: false,
    contextEvaluator: (ctx) => byUser.get(ctx.targetingKey),
  };
}
if (args.attributes) {
  // The README's recipe: the evaluation context, without targetingKey, as one map.
  OpenFeature.addHooks(new EventHook({
    attributeMapper: ({ context: { targetingKey, ...attributes } }) => ({
      'experiment.visitor.attributes': attributes,
    }),
  }));
} else {
  OpenFeature.addHooks(new EventHook());
}
await OpenFeature.setProviderAndWait(new InMemoryProvider(flags));
const client = OpenFeature.getClient('e2e-nodeclient');

let wrong = 0;
for (const { user, flag, variation, attributes } of evaluations) {
  const got = await client.getStringValue(flag, 'default', { targetingKey: user, ...attributes });
  if (got !== variation) {
    wrong++;
    if (wrong <= 10) console.error(`emit.mjs: ${flag} for ${user}: got ${got}, want ${variation}`);
  }
}

if (args.conversions) {
  const logger = logs.getLogger('e2e-nodeclient');
  for (const user of users) {
    logger.emit({
      eventName: 'experiment.conversion',
      timestamp: Date.now(),
      attributes: {
        'user.id': user,
        'experiment.event.key': 'purchase',
        'experiment.revenue': 4200,
      },
    });
  }
}

// ---- flush and report --------------------------------------------------------------------

let flushError;
try {
  await provider.forceFlush();
  await OpenFeature.close();
  await provider.shutdown();
} catch (err) {
  flushError = err;
}

const problems = [];
if (flushError) problems.push(`flush/shutdown: ${flushError.message ?? flushError}`);
for (const f of exportFailures.slice(0, 5)) problems.push(`export to ${url} failed: ${f}`);
if (exportFailures.length > 5) problems.push(`... ${exportFailures.length} failed exports in all`);
if (exported !== wantRecords) problems.push(`${exported} of ${wantRecords} records were exported`);
if (wrong) problems.push(`${wrong} evaluations returned another value than the file's variation_key`);
if (diagErrors) problems.push(`${diagErrors} OpenTelemetry diag errors (the first ones above)`);

console.log(`emit.mjs: ${evaluations.length} evaluations (${skipped} lines without a variation skipped), ` +
  `${conversions} conversions; ${exported} records exported to ${url} (${args.protocol})`);
if (problems.length) {
  for (const p of problems) console.error(`emit.mjs: ERROR: ${p}`);
  process.exit(1);
}
