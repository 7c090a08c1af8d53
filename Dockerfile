# syntax=docker/dockerfile:1.7
# Switchboard gateway image. Build: docker build -t switchboard . (scripts/ops/deploy.mjs does this)
# Graviton (ARM64) tasks: docker build --platform linux/arm64 (npm run deploy -- --platform linux/arm64)
# The base image is pinned by digest (node 24.18.0, bookworm-slim): a rebuild gets the same
# bytes; bump the tag and the digest together.
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

# --- build: full dependency tree, compile TypeScript to dist/ ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

# --- prod-deps: production dependencies only (no @pulumi/*, TypeScript, Jest, ESLint) ---
# The embedded database (PGlite, used only when DATABASE_URL is unset) is removed: the
# image always runs against PostgreSQL, and boot fails with a clear message otherwise.
# test/infra/production-image.e2e-spec.ts runs this exact install and prune without Docker.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
RUN rm -rf node_modules/@electric-sql

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node (graceful drain) and reaps zombies; -s keeps it
# quiet when ECS initProcessEnabled already provides PID 1.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=8080 \
    METRICS_PORT=9464 \
    HOST=0.0.0.0 \
    DATA_DIR=/tmp/switchboard
# The only writable path. ECS mounts an empty task volume at /tmp (the root filesystem is
# read-only) and, because /tmp is a declared VOLUME, initialises it from the image: the data
# directory arrives owned by the runtime user instead of root.
RUN mkdir -p /tmp/switchboard \
  && chown node:node /tmp/switchboard \
  && chmod 1777 /tmp
VOLUME ["/tmp"]
WORKDIR /app
# Files stay owned by root: the node user can read but never modify the application.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "dist/apps/gateway/src/main.js"]
