import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { PageQuery, type Page } from '../common/pagination.js';
import { CreateThemeBody, ThemeIdParam } from './themes.dto.js';
import { ThemesService, type ThemeView } from './themes.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { ThemePageSchema, ThemeSchema } from '../contract/schemas.js';

@ApiTags('themes')
@Controller('api/themes')
export class ThemesController {
  constructor(private readonly themes: ThemesService) {}

  @Get()
  @ApiOperationDoc({
    id: 'listThemes',
    summary: 'List themes',
    description: 'Built-in themes and the ones operators added.',
    auth: 'none',
    responses: { 200: { description: 'One page.', schema: ThemePageSchema } },
    errors: ['INVALID_CURSOR'],
  })
  list(@Query({ schema: PageQuery }) query: PageQuery): Promise<Page<ThemeView>> {
    return this.themes.list(query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperationDoc({
    id: 'getTheme',
    summary: 'Get a theme',
    description: 'One theme and its tokens.',
    auth: 'none',
    responses: { 200: { description: 'The theme.', schema: ThemeSchema } },
    errors: ['THEME_NOT_FOUND'],
  })
  get(@Param('id', { schema: ThemeIdParam }) id: string): Promise<ThemeView> {
    return this.themes.get(id);
  }
}

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/themes')
export class AdminThemesController {
  constructor(private readonly themes: ThemesService) {}

  @Post()
  @ApiOperationDoc({
    id: 'createTheme',
    summary: 'Add a theme',
    description: 'An operator theme that sessions may name.',
    auth: 'admin',
    responses: { 201: { description: 'Added.', schema: ThemeSchema } },
    errors: ['THEME_NAME_TAKEN'],
  })
  create(@Body({ schema: CreateThemeBody }) body: CreateThemeBody): Promise<ThemeView> {
    return this.themes.create(body.name, body.tokens);
  }
}
