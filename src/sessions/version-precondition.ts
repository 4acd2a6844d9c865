import { AppError } from '../errors/app-error.js';

/**
 * The version a write is based on, from the body or an `If-Match: "<n>"` header.
 * Neither: 428. Both and different: 400, rather than guessing which one is meant.
 */
export function versionFrom(bodyVersion: number | undefined, ifMatch: string | undefined): number {
  let headerVersion: number | undefined;
  if (ifMatch !== undefined) {
    const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(ifMatch);
    if (!match || Number(match[1]) < 1) {
      throw AppError.validation([{ field: 'If-Match', message: 'must be a version, e.g. "3"' }]);
    }
    headerVersion = Number(match[1]);
  }
  if (bodyVersion !== undefined && headerVersion !== undefined && bodyVersion !== headerVersion) {
    throw AppError.validation([{ field: 'version', message: 'differs from If-Match' }]);
  }
  const version = bodyVersion ?? headerVersion;
  if (version === undefined) throw new AppError('PRECONDITION_REQUIRED');
  return version;
}
