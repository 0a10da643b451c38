# stormwatch in a container: build with the Rust toolchain, run on a slim Debian as a
# non-root user. Config and state are volumes:
#   docker run -v ./stormwatch.toml:/etc/stormwatch/stormwatch.toml:ro -v stormwatch-data:/var/lib/stormwatch \
#     -p 127.0.0.1:9464:9464 stormwatch
# In the config: [storage] path = "/var/lib/stormwatch/stormwatch.db", [server] listen = "0.0.0.0:9464".

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked --bin stormwatch \
    && strip target/dist/stormwatch

FROM debian:bookworm-slim
# ca-certificates: feeds and webhooks over HTTPS are verified against the system's roots.
# Not pinned: it must follow the distribution's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/stormwatch --shell /usr/sbin/nologin stormwatch \
    && mkdir -p /etc/stormwatch /var/lib/stormwatch \
    && chown stormwatch:stormwatch /var/lib/stormwatch
COPY --from=build /src/target/dist/stormwatch /usr/local/bin/stormwatch
COPY config/stormwatch.example.toml /etc/stormwatch/stormwatch.example.toml
USER 10001:10001
WORKDIR /var/lib/stormwatch
VOLUME ["/var/lib/stormwatch"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["stormwatch", "healthcheck", "--url", "http://127.0.0.1:9464/healthz"]
ENTRYPOINT ["stormwatch"]
CMD ["run", "-c", "/etc/stormwatch/stormwatch.toml"]
