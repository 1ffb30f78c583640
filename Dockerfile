# The cardbatch binary (with the built-in sandbox) for docker-compose.yml.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin cardbatch

FROM debian:bookworm-slim
# curl: the compose health checks.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/cardbatch /usr/local/bin/cardbatch
COPY examples/compose /etc/cardbatch
COPY examples/orders /etc/cardbatch/orders
COPY jobs /app/jobs
WORKDIR /app
ENTRYPOINT ["cardbatch"]
