/** A session key as clients may send it: 3 to 12 of `A-Z0-9`, case-sensitive. Anything else is refused before any lookup. */
export const SESSION_KEY_PATTERN = /^[A-Z0-9]{3,12}$/;

export function isValidSessionKey(value: unknown): value is string {
  return typeof value === 'string' && SESSION_KEY_PATTERN.test(value);
}
