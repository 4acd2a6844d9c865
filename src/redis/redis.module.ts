import { Global, Module } from '@nestjs/common';
import { JsonCache } from './json-cache.js';
import { RedisService } from './redis.service.js';

@Global()
@Module({ providers: [RedisService, JsonCache], exports: [RedisService, JsonCache] })
export class RedisModule {}
