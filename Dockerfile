# syntax=docker/dockerfile:1.7
# Switchboard gateway image. Build: docker build -t switchboard . (scripts/ops/deploy.mjs does this)
ARG NODE_IMAGE=node:24-bookworm-slim

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
# test/infra/production-image.e2e-spec.ts runs this exact install without Docker.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 forwards SIGTERM to node (graceful drain) and reaps zombies; -s keeps it
# quiet when ECS initProcessEnabled already provides PID 1.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/tmp/switchboard
WORKDIR /app
# Files stay owned by root: the node user can read but never modify the application, and
# the only writable path is /tmp (works with a read-only root filesystem).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "dist/apps/gateway/src/main.js"]
