import { StandardSchemaValidationPipe } from '@nestjs/common';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { AppError, type FieldError } from './app-error.js';

function fieldOf(path: StandardSchemaV1.Issue['path']): string {
  return (path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
}

/** Standard Schema issues (zod's included) as `errors: [{field, message}]`. */
export function issuesToFieldErrors(issues: readonly StandardSchemaV1.Issue[]): FieldError[] {
  return issues.flatMap((issue) => {
    const base = fieldOf(issue.path);
    const keys = (issue as { code?: string; keys?: string[] }).keys;
    if ((issue as { code?: string }).code === 'unrecognized_keys' && Array.isArray(keys)) {
      return keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'is not an accepted field' }));
    }
    return [{ field: base || '(body)', message: issue.message }];
  });
}

/** The global pipe: validates every `@Body/@Query/@Param({schema})` and answers VALIDATION_FAILED. */
export function createValidationPipe(): StandardSchemaValidationPipe {
  return new StandardSchemaValidationPipe({
    exceptionFactory: (issues) => AppError.validation(issuesToFieldErrors(issues)),
  });
}
