/**
 * Every error Tessera answers with: a stable machine code, its HTTP status, and the
 * default human sentence. HTTP responses and socket acks are both built from this.
 */
export const ERROR_CATALOG = {
  VALIDATION_FAILED: { status: 400, detail: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, detail: 'The request body is not valid JSON.' },
  INVALID_SESSION_KEY: { status: 400, detail: 'Session keys are 3 to 12 characters of A-Z and 0-9.' },
  INVALID_SESSION_TYPE: { status: 400, detail: 'The session type is not registered.' },
  INVALID_THEME: { status: 400, detail: 'The theme does not exist.' },
  INVALID_CURSOR: { status: 400, detail: 'The pagination cursor is not valid.' },
  INVALID_TOKEN: { status: 401, detail: 'The access token is invalid or expired.' },
  AUTH_REQUIRED: { status: 401, detail: 'This route needs a user access token.' },
  ADMIN_TOKEN_REQUIRED: { status: 401, detail: 'This route needs the admin token.' },
  INVALID_CREDENTIALS: { status: 401, detail: 'The email or password is wrong.' },
  FORBIDDEN: { status: 403, detail: 'You are not allowed to do this.' },
  READ_ONLY: { status: 403, detail: 'This session is read-only for you.' },
  NOT_SESSION_OWNER: { status: 403, detail: 'Only the owner of the session may do this.' },
  NOT_FOUND: { status: 404, detail: 'Nothing is here.' },
  SESSION_NOT_FOUND: { status: 404, detail: 'No session has this key.' },
  USER_NOT_FOUND: { status: 404, detail: 'No user has this id.' },
  THEME_NOT_FOUND: { status: 404, detail: 'No theme has this id.' },
  BLOCK_NOT_FOUND: { status: 404, detail: 'This session has no block with this id.' },
  SNAPSHOT_NOT_FOUND: { status: 404, detail: 'This session has no snapshot with this id.' },
  METHOD_NOT_ALLOWED: { status: 405, detail: 'This method is not allowed here.' },
  EMAIL_TAKEN: { status: 409, detail: 'An account with this email exists.' },
  THEME_NAME_TAKEN: { status: 409, detail: 'A theme with this name exists.' },
  BLOCK_ID_TAKEN: { status: 409, detail: 'A block with this id exists.' },
  BLOCK_LIMIT_REACHED: { status: 409, detail: 'The session holds the most blocks a session may hold.' },
  ROOM_FULL: { status: 409, detail: 'The session has the most members it may have.' },
  VERSION_CONFLICT: { status: 409, detail: 'The resource changed since the version this write is based on.' },
  CHANGES_EXPIRED: { status: 410, detail: 'The changes after this sequence number are no longer kept; reload the session.' },
  PAYLOAD_TOO_LARGE: { status: 413, detail: 'The request body is too large.' },
  BLOCK_TOO_LARGE: { status: 413, detail: 'The block content is larger than BLOCK_MAX_BYTES.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'Request bodies must be application/json.' },
  INVALID_ANCHOR: { status: 422, detail: 'afterId / beforeId does not name another block of this session.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, detail: 'This Idempotency-Key was used with a different request.' },
  PROTOCOL_UNSUPPORTED: { status: 426, detail: 'This client speaks a protocol version the server does not; update the client.' },
  PRECONDITION_REQUIRED: { status: 428, detail: 'This write must name the version it is based on (body version or If-Match).' },
  RATE_LIMITED: { status: 429, detail: 'Too many requests; retry later.' },
  BLOCKED: { status: 429, detail: 'Too many refused requests; blocked for a while.' },
  INTERNAL_ERROR: { status: 500, detail: 'Something went wrong on our side.' },
  SERVICE_UNAVAILABLE: { status: 503, detail: 'A dependency is unavailable; retry shortly.' },
  SERVER_FULL: { status: 503, detail: 'This instance holds the most connections it may; retry (another instance may take it).' },
  SERVER_DRAINING: { status: 503, detail: 'This instance is shutting down; reconnect (another instance will take it).' },
  NOT_READY: { status: 503, detail: 'This instance is not ready to serve.' },
} as const satisfies Record<string, { status: number; detail: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Codes for a bare HTTP status, when something outside the catalog raised it. */
export const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'INVALID_TOKEN',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  428: 'PRECONDITION_REQUIRED',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};
