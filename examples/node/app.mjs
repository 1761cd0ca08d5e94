// app.mjs: flag evaluations from Node.js. OpenFeature evaluates a flag, the OpenTelemetry
// EventHook turns each evaluation into a feature_flag.evaluation log record, and the OTLP
// exporter sends the records to the collector, whose logs pipeline ends in the
// experimentation exporter. An ES module (import, top-level await): keep the .mjs name,
// or set "type": "module" in package.json (examples/node/package.json does).
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 node app.mjs
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OpenFeature, InMemoryProvider } from '@openfeature/server-sdk';
import { EventHook } from '@openfeature/open-telemetry-hooks';

// Records go to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/logs (default http://localhost:4318).
const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor(new OTLPLogExporter())],
});
logs.setGlobalLoggerProvider(loggerProvider); // before new EventHook(): the hook takes the global logger
OpenFeature.addHooks(new EventHook());

// Your provider (Optimizely, VWO, flagd, ...): its variants must be the platform's
// variation keys. This in-memory one gives everyone the variation "treatment".
await OpenFeature.setProviderAndWait(new InMemoryProvider({
  checkout_redesign: {
    disabled: false,
    variants: { control: false, treatment: true },
    defaultVariant: 'treatment',
  },
}));
const client = OpenFeature.getClient('checkout');

// Per request; the targeting key is the Optimizely or VWO user id.
const redesign = await client.getBooleanValue('checkout_redesign', false, { targetingKey: 'user-123' });
console.log(`checkout_redesign for user-123: ${redesign}`);

await OpenFeature.close();
await loggerProvider.shutdown(); // sends what is left
