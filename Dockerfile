# syntax=docker/dockerfile:1
#
# The gateway's image. It runs what `npm start` runs, tsx over src/main.ts (no compile step), so
# tsx is a production dependency. Build and run:
#
#   docker build -t nomad-graphql-gateway .
#   docker run --rm -p 4000:4000 -e NOMAD_ADDR=http://nomad.example.com:4646 nomad-graphql-gateway
#
# Every setting is an environment variable (README, "Run against a real Nomad"); `--help` lists them:
#   docker run --rm nomad-graphql-gateway node --import tsx src/main.ts --help

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, and the type check as a gate ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc sets engine-strict: npm ci refuses a Node older than package.json's "engines".
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src/ is here, so tsconfig's test/, scripts/ and bench/ globs add nothing: this checks what ships.
RUN npx tsc --noEmit

# ---- runtime: production dependencies, the checked sources, a non-root user ----------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
# The image runs src/main.ts with tsx: fail here, not at start, if it is not a production dependency.
RUN test -f node_modules/tsx/package.json \
 || { echo 'tsx is not installed by npm ci --omit=dev: move it to "dependencies" in package.json' >&2; exit 1; }
# tsx reads tsconfig.json (verbatimModuleSyntax...) as `npm start` does; the sources come from the
# build stage, so an image is only made of sources that passed the type check.
COPY --from=build /app/tsconfig.json ./
COPY --from=build /app/src ./src
# Everything under /app stays root's and read-only to the process: it needs to write nothing there
# (tsx keeps its cache in /tmp).
USER node
EXPOSE 4000
# Liveness only (200 while the process runs): readiness (/readyz) depends on Nomad and Redis, and an
# orchestrator should not restart a replica because Nomad is away. No curl in slim images: Node's fetch.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '4000') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tsx's loader in the gateway's own process (as `tsx src/main.ts` does in a child): SIGTERM reaches
# main.ts's graceful shutdown directly, with no wrapper process in between.
CMD ["node", "--max-semi-space-size=32", "--import", "tsx", "src/main.ts"]
