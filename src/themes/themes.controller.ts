import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { PageQuery, type Page } from '../common/pagination.js';
import { CreateThemeBody, ThemeIdParam } from './themes.dto.js';
import { ThemesService, type ThemeView } from './themes.service.js';

@ApiTags('themes')
@Controller('api/themes')
export class ThemesController {
  constructor(private readonly themes: ThemesService) {}

  @Get()
  list(@Query({ schema: PageQuery }) query: PageQuery): Promise<Page<ThemeView>> {
    return this.themes.list(query.limit, query.cursor);
  }

  @Get(':id')
  get(@Param('id', { schema: ThemeIdParam }) id: string): Promise<ThemeView> {
    return this.themes.get(id);
  }
}

@ApiTags('admin')
@ApiBearerAuth()
@RequireAdmin()
@Controller('api/admin/themes')
export class AdminThemesController {
  constructor(private readonly themes: ThemesService) {}

  @Post()
  create(@Body({ schema: CreateThemeBody }) body: CreateThemeBody): Promise<ThemeView> {
    return this.themes.create(body.name, body.tokens);
  }
}
