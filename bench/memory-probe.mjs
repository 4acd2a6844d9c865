// Loaded into a server by bench/scale.mjs (`--import`): on SIGUSR2 it collects garbage (so
// that what it reports is what the process holds, not what V8 has not yet collected), then
// writes the process's memoryUsage() as JSON to BENCH_MEMORY_FILE and, with
// BENCH_HEAPSNAPSHOT_DIR set, a heap snapshot there too, named by the label written beside
// BENCH_MEMORY_FILE (`<file>.label`).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const file = process.env.BENCH_MEMORY_FILE;
const snapshots = process.env.BENCH_HEAPSNAPSHOT_DIR;
if (file) {
  process.on('SIGUSR2', () => {
    let label = 'snapshot';
    try {
      label = readFileSync(`${file}.label`, 'utf8').trim() || label;
    } catch {
      // no label asked for
    }
    gc();
    const path = snapshots ? writeHeapSnapshot(join(snapshots, `${label}.heapsnapshot`)) : undefined;
    writeFileSync(file, JSON.stringify({ ...process.memoryUsage(), snapshot: path }));
  });
}
