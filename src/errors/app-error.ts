import { ERROR_CATALOG, type ErrorCode } from './error-catalog.js';

export interface FieldError {
  field: string;
  message: string;
}

/** The one exception type of the domain: a catalog code plus optional detail and extensions. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? ERROR_CATALOG[code].detail);
    this.name = 'AppError';
    this.status = ERROR_CATALOG[code].status;
  }

  static validation(errors: FieldError[], detail = 'The request is not valid.'): AppError {
    return new AppError('VALIDATION_FAILED', detail, { errors });
  }
}
