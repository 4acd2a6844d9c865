import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { sessionWithBlocks } from '../helpers/jobs.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

const DASHBOARD = 'k8s/monitoring/tessera-dashboard.json';
const RULES = 'k8s/monitoring/tessera-alerts.rules.yaml';

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label
 * matchers, ranges, grouping clauses and Grafana variables are taken out, that are not
 * functions (followed by `(`) or operators.
 */
function metricNamesOf(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  return [...bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)]
    .map((m) => m[1])
    .filter((word) => !PROMQL_WORDS.has(word.toLowerCase()));
}

/** Every series name `/metrics` can serve, from its `# TYPE` lines (families with no sample yet included). */
async function exposedNames(app: TestApp): Promise<Set<string>> {
  const text = await (await fetch(`${app.url}/metrics`)).text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string }>;
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; title: string; schemaVersion: number; panels: Panel[] };
const rules = parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Array<{ alert: string; expr: string }> }> };
const alerts = rules.groups.flatMap((group) => group.rules);
const queries = [
  ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
  ...alerts.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
];

describe('the monitoring files (k8s/monitoring/)', () => {
  let api: TestApp;
  let worker: TestApp;
  let exposed: Set<string>;

  beforeAll(async () => {
    const redis = isolatedRedis('monitoring-spec');
    // On a prefix of its own the worker's first cleanup would come at once, deleting other suites' due artifacts.
    const quiet = { ...redis, ENABLE_ARTIFACT_CLEANUP: 'false' };
    [api, worker] = await Promise.all([startTestApp({ ...quiet, RUN_WORKERS: 'false' }), startTestApp(quiet, 'worker')]);
    const owner = await createUser();
    await sessionWithBlocks(api, owner.token, [{ type: 'text', content: { text: 'a' } }]);
    exposed = new Set([...(await exposedNames(api)), ...(await exposedNames(worker))]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([api?.close(), worker?.close()]);
    await closeTestDb();
  });

  it('finds metric names in PromQL the way Prometheus reads them', () => {
    expect(
      metricNamesOf(
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=~"$job", route=~"a{b}"}[$__rate_interval]))) / 1e9',
      ),
    ).toEqual(['http_request_duration_seconds_bucket']);
    expect(metricNamesOf('max by (queue) (queue_workers) == 0 and max by (queue) (queue_jobs{state="waiting"}) > 0')).toEqual([
      'queue_workers',
      'queue_jobs',
    ]);
  });

  it('queries only metrics the API and the worker expose', () => {
    expect(exposed.has('http_request_duration_seconds_bucket')).toBe(true);
    expect(exposed.has('job_duration_seconds_bucket')).toBe(true);
    expect(exposed.has('active_connections')).toBe(true);
    expect(queries.length).toBeGreaterThan(20);
    for (const { where, expr } of queries) {
      const names = metricNamesOf(expr);
      expect({ where, selects: names.length > 0 }).toEqual({ where, selects: true });
      expect({ where, unknown: names.filter((name) => !exposed.has(name)) }).toEqual({ where, unknown: [] });
    }
  });

  it('is a dashboard Grafana can import: uid, title, placed panels with queries on a chosen data source', () => {
    expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
    expect(dashboard.title).toBe('Tessera');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(30);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(15);
    for (const panel of graphs) {
      expect({ panel: panel.title, datasource: panel.datasource?.uid }).toEqual({ panel: panel.title, datasource: '${datasource}' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target).toMatchObject({ refId: expect.any(String), expr: expect.any(String) });
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('has alert rules that promtool accepts, each named in the operations guide', () => {
    const guide = readFileSync('docs/operations.md', 'utf8');
    for (const { alert } of alerts) expect({ alert, documented: guide.includes(`\`${alert}\``) }).toEqual({ alert, documented: true });
    const check = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    if (check.error && 'code' in check.error && check.error.code === 'ENOENT') {
      if (process.env.TESSERA_REQUIRE_PROMTOOL === '1') throw new Error('promtool is not installed (TESSERA_REQUIRE_PROMTOOL=1)');
      console.warn('promtool is not installed: the alert rules were not checked by it');
      return;
    }
    expect({ status: check.status, output: check.stdout + check.stderr }).toMatchObject({ status: 0 });
    expect(check.stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });
});
