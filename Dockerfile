# The collector image: the static (CGO_ENABLED=0) binary that ocb builds from
# builder-config.yaml, CA certificates, a default config and nothing else.
#
# Build it with `make image` (podman if installed, else docker). make image builds the
# collector (make collector) and stages the build context in _build/image/:
#
#   otelcol-experimentation   the ocb build (_build/otelcol-experimentation)
#   ca-certificates.crt       the build host's /etc/ssl/certs/ca-certificates.crt
#   config.yaml               examples/production.yaml
#   queue/                    an empty folder: the persistent queue's directory
#
# so the image builds without pulling a base image or compiling in a container:
#
#   make image                 # otelcol-experimentation:0.1.0
#   docker build -t otelcol-experimentation:0.1.0 -f Dockerfile _build/image   # the same, by hand
#
# Run it with the default config (OTLP/HTTP on 4318, the datafile from the CDN for
# OPTIMIZELY_SDK_KEY, the persistent queue in /var/lib/otelcol/file_storage), or mount
# another at /etc/otelcol/config.yaml:
#
#   docker run -p 4318:4318 -e OPTIMIZELY_SDK_KEY=... otelcol-experimentation:0.1.0
FROM scratch

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="otelcol-experimentation" \
      org.opencontainers.image.description="OpenTelemetry Collector with the experimentation exporter" \
      org.opencontainers.image.version="${VERSION}"

# Go's crypto/x509 reads this path first on Linux: HTTPS to the Optimizely CDN and event
# API, and to VWO.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY config.yaml /etc/otelcol/config.yaml
# The default config's file_storage directory, writable by the collector's user.
COPY --chown=10001:10001 queue/ /var/lib/otelcol/file_storage/
COPY otelcol-experimentation /otelcol-experimentation

USER 10001:10001
EXPOSE 4318
ENTRYPOINT ["/otelcol-experimentation"]
CMD ["--config", "/etc/otelcol/config.yaml"]
