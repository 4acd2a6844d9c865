import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { SessionTypesRepository } from './session-types.repository.js';

/**
 * The session types a session may be created with: the built-in ones (seeded by the
 * first migration) plus those operators list in SESSION_TYPES.
 */
@Injectable()
export class SessionTypesRegistry implements OnModuleInit {
  private slugs = new Set<string>();

  constructor(
    private readonly types: SessionTypesRepository,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.types.ensure(this.config.SESSION_TYPES);
    this.slugs = new Set(await this.types.listSlugs());
  }

  has(slug: string): boolean {
    return this.slugs.has(slug);
  }

  list(): string[] {
    return [...this.slugs].sort();
  }
}
