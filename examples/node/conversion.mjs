// conversion.mjs: a purchase from Node.js. OpenFeature's track() emits no OpenTelemetry
// signal, so the app emits an experiment.conversion log record itself, with the user id,
// the event key (Optimizely: one of the datafile's) and the revenue (Optimizely: cents).
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 node conversion.mjs
import { logs } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';

const loggerProvider = new LoggerProvider({
  processors: [new BatchLogRecordProcessor(new OTLPLogExporter())],
});
logs.setGlobalLoggerProvider(loggerProvider);

const userId = 'user-123';
// snippet:start emit
logs.getLogger('checkout').emit({
  eventName: 'experiment.conversion',
  timestamp: Date.now(),
  attributes: { 'user.id': userId, 'experiment.event.key': 'purchase', 'experiment.revenue': 4200 },
});
// snippet:end emit

await loggerProvider.shutdown(); // sends what is left
