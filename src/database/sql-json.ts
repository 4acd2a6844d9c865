/**
 * A timestamptz expression as the API writes times: UTC, milliseconds, `Z`
 * (`toISOString()`'s form), whatever the connection's TimeZone.
 */
export const isoTime = (expression: string) => `to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
