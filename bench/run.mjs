// `npm run bench`: every benchmark of bench/, one after the other, then one report:
// bench/REPORT.md and bench/report.json, each figure beside the baseline measured in the
// same run and the ratio, with the machine's cores, memory and the date.
//
// Parameters (bigger machines: raise them): BENCH_SECONDS (per measured phase, default 5),
// BENCH_ONLY (comma-separated benchmark names: those are measured again, and the report keeps
// the others' figures from the last report.json, each section saying when it was measured),
// and each benchmark's own BENCH_* settings.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';

const BENCHES = [
  { name: 'sessions', about: 'session creation' },
  { name: 'blocks', about: 'versioned block writes and cached reads' },
  { name: 'bigread', about: '/api/health while a session at its 8 MiB budget is read, snapshot and exported' },
  { name: 'history', about: 'a 5,000-block session as of a past seq, and a diff, over 1,000 kept changes' },
  { name: 'ratelimit', about: "the rate limiter's cost" },
  { name: 'idempotency', about: 'PATCH with and without an Idempotency-Key, and a replay' },
  { name: 'members', about: 'PATCH on private sessions with 20 members and without, alternating rounds' },
  { name: 'outbox', about: "the client outbox's replay of 1,000 queued edits after a reconnect, beside an online client" },
  { name: 'fanout', about: 'change fan-out to sockets across two instances, idle-socket memory' },
  { name: 'webhooks', about: 'change-to-webhook delivery latency and deliveries/s, beside sockets' },
  { name: 'feed', about: 'change feeds (server-sent events): 200 readers of one session on one instance, beside sockets' },
  { name: 'jobs', about: 'export jobs end to end, no-op job throughput' },
  { name: 'scale', about: 'connections one instance holds; editing users two instances serve within p99 < 100 ms' },
];
const seconds = process.env.BENCH_SECONDS ?? '5';
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const selected = BENCHES.filter((b) => !only || only.includes(b.name));
const scratch = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
const resultsFile = join(scratch, 'results.jsonl');
writeFileSync(resultsFile, '');

function run(bench) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join('bench', `${bench.name}.mjs`)], {
      env: { ...process.env, BENCH_SECONDS: seconds, BENCH_RESULTS: resultsFile },
      stdio: 'inherit',
    });
    child.on('exit', (code) => resolve({ name: bench.name, exitCode: code, seconds: (Date.now() - started) / 1000 }));
  });
}

const startedAt = new Date();
const runs = [];
for (const bench of selected) {
  console.log(`\n=== bench/${bench.name}.mjs: ${bench.about}`);
  runs.push(await run(bench));
}
const figures = readFileSync(resultsFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line));
rmSync(scratch, { recursive: true, force: true });

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
};
// Benchmarks not run this time keep what the last report measured, with its date.
const previous = only && existsSync(join('bench', 'report.json')) ? JSON.parse(readFileSync(join('bench', 'report.json'), 'utf8')) : null;
const date = startedAt.toISOString();
for (const r of runs) r.date = date;
for (const bench of BENCHES.filter((b) => !selected.includes(b))) {
  const kept = previous?.runs.find((r) => r.name === bench.name);
  if (!kept) continue;
  runs.push({ ...kept, date: kept.date ?? previous.date });
  figures.push(...previous.figures.filter((f) => f.bench === bench.name));
}
const reported = BENCHES.filter((b) => runs.some((r) => r.name === b.name));
const report = {
  date,
  totalSeconds: (Date.now() - startedAt.getTime()) / 1000,
  machine,
  parameters: { BENCH_SECONDS: Number(seconds) },
  runs,
  figures,
};
writeFileSync(join('bench', 'report.json'), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (value, digits = 0) => (value === undefined || value === null ? '' : Number(value).toFixed(digits));
const lines = [
  '# Tessera benchmark report',
  '',
  `${startedAt.toISOString().slice(0, 10)}, ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}.`,
  `Written by \`npm run bench\` (${fmt(report.totalSeconds)} s, ${seconds} s per measured phase); the load generator, the server,`,
  'PostgreSQL and Redis share the machine. Every figure is measured beside its baseline in the same run;',
  'the ratio is figure / baseline (for memory, where less is better, it is still figure / baseline).',
  '',
];
for (const bench of reported) {
  const own = figures.filter((f) => f.bench === bench.name);
  const outcome = runs.find((r) => r.name === bench.name);
  lines.push(`## ${bench.name}: ${bench.about}`, '');
  if (outcome.date !== date) lines.push(`Measured ${outcome.date.slice(0, 16).replace('T', ' ')} UTC, by an earlier run.`, '');
  if (outcome.exitCode !== 0) lines.push(`The benchmark failed (exit ${outcome.exitCode}); its figures are missing.`, '');
  if (own.length === 0) continue;
  lines.push(
    '| figure | value | p50 ms | p99 ms | baseline | baseline value | ratio |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: |',
  );
  for (const f of own) {
    lines.push(
      `| ${f.name} | ${fmt(f.value, f.unit === 'MiB' ? 0 : 0)} ${f.unit} | ${fmt(f.p50, 1)} | ${fmt(f.p99, 1)} | ${f.baseline?.name ?? ''} | ${fmt(f.baseline?.value)} ${f.baseline ? f.unit : ''} | ${fmt(f.ratio, 2)} |`,
    );
  }
  lines.push('', `Run time: ${fmt(outcome.seconds)} s.`, '');
}
writeFileSync(join('bench', 'REPORT.md'), `${lines.join('\n')}\n`);
console.log(`\nReport written to bench/REPORT.md and bench/report.json (${fmt(report.totalSeconds)} s).`);
process.exitCode = runs.some((r) => r.exitCode !== 0) ? 1 : 0;
