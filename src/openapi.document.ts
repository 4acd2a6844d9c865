import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { AppModule } from './app.module.js';
import { buildOpenApiDocument } from './common/openapi/openapi-document.js';
import { loadConfig } from './config/app-config.js';

/**
 * The OpenAPI document the API serves at /api/docs/openapi.json, built from the module graph
 * in Nest's preview mode: nothing is instantiated, so no database or Redis is needed.
 */
export async function offlineOpenApiDocument(): Promise<OpenAPIObject> {
  const config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent' });
  const app = await NestFactory.create(AppModule.forRoot(config, 'api'), new FastifyAdapter(), {
    logger: false,
    preview: true,
    abortOnError: false,
  });
  try {
    return buildOpenApiDocument(app);
  } finally {
    await app.close();
  }
}
