/** Probes and the metrics scrape: all a worker process serves, and not traffic worth a log line. */
const OPERATIONAL_ROUTE = /^\/((api\/)?health(\/(live|ready))?|metrics)(\?|$)/;

export function isOperationalRoute(url: string): boolean {
  return OPERATIONAL_ROUTE.test(url);
}
