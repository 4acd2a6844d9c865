import { Injectable } from '@nestjs/common';
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
  constructor(private readonly themes: ThemesRepository) {}

  async list(): Promise<{ items: ThemeView[]; nextCursor: null }> {
    return { items: (await this.themes.list()).map(view), nextCursor: null };
  }

  async get(id: string): Promise<ThemeView> {
    const theme = await this.themes.findById(id);
    if (!theme) throw new AppError('THEME_NOT_FOUND');
    return view(theme);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.themes.findById(id)) !== null;
  }

  async create(name: string, tokens: Record<string, string | number | boolean>): Promise<ThemeView> {
    const theme = await this.themes.create(name, tokens);
    if (!theme) throw new AppError('THEME_NAME_TAKEN');
    return view(theme);
  }
}
