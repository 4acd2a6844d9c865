import { Injectable, type PipeTransform } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import { isValidSessionKey } from '../common/session-key-format.js';

/** Rejects a malformed key before anything touches the database. */
@Injectable()
export class SessionKeyPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isValidSessionKey(value)) throw new AppError('INVALID_SESSION_KEY');
    return value;
  }
}
