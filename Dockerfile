# Chargegate's container image. One image runs every role: the command picks it
# (start, api, worker, auth-service); see docs/deploy.md.

# Build: every dependency (TypeScript included), then only the production ones are kept.
FROM node:20-bookworm-slim AS build
# better-sqlite3 is a native module: where no prebuilt binary matches, npm compiles it.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off for the install (`prepare` builds, and the sources are not here yet); the one
# dependency that needs its install script gets it through rebuild.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN npm run build \
  && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
  && chmod 0755 dist/cli.js

# Run: Node, the compiled service, its production dependencies, the example ACL and catalog.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY acl ./acl
COPY examples/stations.json ./examples/stations.json
RUN ln -s /app/dist/cli.js /usr/local/bin/chargegate \
  && mkdir -p /data \
  && chown node:node /data
# The image's unprivileged user; DATA_DIR must be writable by it (uid 1000).
USER node
VOLUME ["/data"]
# 8080: public API (PORT). 8081: reference authorization service (AUTH_SERVICE_PORT).
# 9090: a worker's health and metrics, when WORKER_PORT=9090 is set.
EXPOSE 8080 8081 9090
# Asks /health/ready of the API on PORT; a worker or auth-service container overrides it with
# `chargegate health worker` or `chargegate health auth-service`.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/cli.js", "health"]
# Node is PID 1 (exec form, no shell): SIGTERM reaches it, it stops accepting, finishes
# in-flight work and exits 0 within SHUTDOWN_TIMEOUT_MS (15 s by default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["start"]
