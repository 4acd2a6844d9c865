# syntax=docker/dockerfile:1
# Tessera's container image: one image for the API (`node dist/main.js`, the default),
# the queue workers (`node dist/worker.js`) and migrations (`node dist/database/migrate.cli.js`).

FROM node:22-bookworm-slim AS build
WORKDIR /app
# The project opts out of @scarf/scarf's install-time analytics (package.json allowScripts);
# npm 10 in this image does not read allowScripts, so say it the way scarf understands.
ENV SCARF_ANALYTICS=false
# The manifest, lockfile and Prisma schema first: the dependency layer is rebuilt only
# when one of them changes. npm ci's postinstall runs `prisma generate` and needs the schema.
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.client.json nest-cli.json ./
COPY src ./src
COPY web ./web
# postinstall generated the client already; generating explicitly keeps the build working
# where install scripts are disabled. `nest build` compiles it into dist/generated.
RUN npx prisma generate --no-hints && npm run build

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root postinstall is `prisma generate`, a build step whose output is
# already compiled into dist/; no production dependency needs its own install script (the
# Prisma query compiler is WebAssembly, the embedded PostgreSQL is for local runs only).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The migrate command reads prisma/migrations (two levels above dist/database).
COPY --from=build /app/prisma ./prisma
# Files stay owned by root: the process can read its code but never rewrite it.
USER node
EXPOSE 3001
STOPSIGNAL SIGTERM
# Liveness only (never the database): the slim image has no curl, Node's fetch does the probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3001) + '/api/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
