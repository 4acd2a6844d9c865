// Polls GET <url>/api/health every <interval> ms from a process of its own, so what it times
// is the server's answer and not the event loop of whoever started it (a test or a benchmark
// receiving megabyte bodies meanwhile). Prints "ready" once started; when its stdin closes it
// stops and prints one JSON line: {"latencies": [ms, ...], "failures": [status or error, ...]}.
import http from 'node:http';

const [url, interval = '20'] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const latencies = [];
const failures = [];
let running = true;
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => (running = false));

const probe = () =>
  new Promise((resolve) => {
    const started = performance.now();
    const req = http.get(`${url}/api/health`, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - started);
        if (res.statusCode !== 200) failures.push(res.statusCode);
        resolve();
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (error) => {
      failures.push(error.message);
      resolve();
    });
  });

await probe(); // the connection, opened before the load starts
latencies.length = 0;
process.stdout.write('ready\n');
while (running) {
  await probe();
  await new Promise((resolve) => setTimeout(resolve, Number(interval)));
}
process.stdout.write(`${JSON.stringify({ latencies, failures })}\n`);
agent.destroy();
