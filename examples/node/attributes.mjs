// attributes.mjs: app.mjs with the visitor attributes on each impression. The
// EventHook's attributeMapper copies the evaluation context, without the targeting key,
// to experiment.visitor.attributes (one map attribute: the logs SDK keeps it on the
// record), so the exporter evaluates the datafile's audiences on what the app decided
// with, and Optimizely gets the attributes its datafile knows.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 node attributes.mjs
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OpenFeature, InMemoryProvider } from '@openfeature/server-sdk';
import { EventHook } from '@openfeature/open-telemetry-hooks';

const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor(new OTLPLogExporter())],
});
logs.setGlobalLoggerProvider(loggerProvider);
// snippet:start hook
OpenFeature.addHooks(new EventHook({
  attributeMapper: (hookContext) => {
    const { targetingKey, ...attributes } = hookContext.context;
    return { 'experiment.visitor.attributes': attributes };
  },
}));
// snippet:end hook

await OpenFeature.setProviderAndWait(new InMemoryProvider({
  checkout_redesign: {
    disabled: false,
    variants: { control: false, treatment: true },
    defaultVariant: 'treatment',
  },
}));
const client = OpenFeature.getClient('checkout');

const context = { targetingKey: 'user-123', plan: 'pro', country: 'DE' };
const redesign = await client.getBooleanValue('checkout_redesign', false, context);
console.log(`checkout_redesign for user-123: ${redesign}`);

await OpenFeature.close();
await loggerProvider.shutdown();
