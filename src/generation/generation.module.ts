import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { SnapshotsModule } from '../snapshots/snapshots.module.js';
import { GenerateProcessor } from './generate.processor.js';
import { GeneratedBlocksWriter } from './generated-blocks.writer.js';
import { GenerationController } from './generation.controller.js';
import { GenerationService } from './generation.service.js';
import { ImageProcessor } from './image.processor.js';
import { LocalImageProvider } from './providers/local-image.provider.js';
import { LocalTextProvider } from './providers/local-text.provider.js';
import { OpenAiImageProvider } from './providers/openai-image.provider.js';
import { OpenAiTextProvider } from './providers/openai-text.provider.js';
import { IMAGE_PROVIDER, TEXT_PROVIDER } from './providers/text-provider.js';
import { ThinkProcessor } from './think.processor.js';

/** Providers are chosen by configuration: an OpenAI-compatible API when its URL is set, else the built-in local one. */
const providers = [
  {
    provide: TEXT_PROVIDER,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) =>
      config.AI_PROVIDER_URL
        ? new OpenAiTextProvider(
            { baseUrl: config.AI_PROVIDER_URL, apiKey: config.AI_API_KEY, timeoutMs: config.PROVIDER_TIMEOUT_MS },
            config.AI_MODEL,
          )
        : new LocalTextProvider(),
  },
  {
    provide: IMAGE_PROVIDER,
    inject: [APP_CONFIG],
    useFactory: (config: AppConfig) =>
      config.IMAGE_PROVIDER_URL
        ? new OpenAiImageProvider(
            { baseUrl: config.IMAGE_PROVIDER_URL, apiKey: config.IMAGE_API_KEY, timeoutMs: config.PROVIDER_TIMEOUT_MS },
            config.IMAGE_MODEL,
          )
        : new LocalImageProvider(),
  },
];

@Module({
  imports: [ArtifactsModule, BlocksModule, QueuesModule, RateLimitModule, SessionsModule, SnapshotsModule],
  controllers: [GenerationController],
  providers: [...providers, GeneratedBlocksWriter, GenerationService, GenerateProcessor, ThinkProcessor, ImageProcessor],
})
export class GenerationModule {}
