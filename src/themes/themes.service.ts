import { Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service.js';
import { toPage, type Page } from '../common/pagination.js';
import { AppError } from '../errors/app-error.js';
import type { Theme } from '../generated/prisma/client.js';
import { ThemesRepository } from './themes.repository.js';

export interface ThemeView {
  id: string;
  name: string;
  tokens: unknown;
  builtIn: boolean;
  createdAt: string;
}

const view = (t: Theme): ThemeView => ({
  id: t.id,
  name: t.name,
  tokens: t.tokens,
  builtIn: t.builtIn,
  createdAt: t.createdAt.toISOString(),
});

@Injectable()
export class ThemesService {
  constructor(
    private readonly themes: ThemesRepository,
    private readonly cache: CacheService,
  ) {}

  /** Ordered by name; the cursor is the last name of the previous page, base64url-encoded. */
  async list(limit: number, cursor?: string): Promise<Page<ThemeView>> {
    let after: string | undefined;
    if (cursor !== undefined) {
      after = Buffer.from(cursor, 'base64url').toString('utf8');
      // A NUL cannot be in a theme name (nor in a PostgreSQL string): such a cursor was never issued.
      if (!after || after.includes('\0') || !after.isWellFormed() || Buffer.from(after).toString('base64url') !== cursor) {
        throw new AppError('INVALID_CURSOR');
      }
    }
    const rows = await this.themes.list(limit + 1, after);
    return toPage(rows, limit, view, (t) => Buffer.from(t.name).toString('base64url'));
  }

  async get(id: string): Promise<ThemeView> {
    const theme = await this.find(id);
    if (!theme) throw new AppError('THEME_NOT_FOUND');
    return theme;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.find(id)) !== null;
  }

  async create(name: string, tokens: Record<string, string | number | boolean>): Promise<ThemeView> {
    const theme = await this.themes.create(name, tokens);
    if (!theme) throw new AppError('THEME_NAME_TAKEN');
    return view(theme);
  }

  /** Themes never change once created, so the day-long cache entry needs no invalidation. */
  private find(id: string): Promise<ThemeView | null> {
    return this.cache.getOrSet({ type: 'theme', key: id }, async () => {
      const theme = await this.themes.findById(id);
      return theme && view(theme);
    });
  }
}
