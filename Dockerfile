# Placeholder until the service issue: builds the CLI; the daemon and its health checks come later.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
COPY --from=build /src/target/release/stormwatch /usr/local/bin/stormwatch
ENTRYPOINT ["stormwatch"]
CMD ["score", "--examples"]
