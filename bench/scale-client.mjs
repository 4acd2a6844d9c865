// A load-generating process for bench/scale.mjs (the load is spread over a few processes so
// that one client event loop does not become the bottleneck). Reads its task from
// SCALE_TASK (JSON) and reports on stdout, one JSON line per message:
//   {kind: 'sockets', url, count}       holds `count` idle sockets; reports {connected, failed}
//   {kind: 'editors', urls, users}      users = [{url, key, id, version}]: each joins its
//                                       session and updates its block every `everyMs`;
//                                       reports ack latencies per window of `windowMs`.
import { io } from 'socket.io-client';

const task = JSON.parse(process.env.SCALE_TASK);
const say = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const sockets = [];

function connect(url) {
  return new Promise((resolve) => {
    const socket = io(`${url}/collab`, {
      path: '/socket.io',
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 20_000,
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', () => {
      socket.close();
      resolve(undefined);
    });
  });
}

async function holdSockets() {
  let connected = 0;
  let failed = 0;
  for (let i = 0; i < task.count; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, task.count - i) }, () => connect(task.url)));
    for (const socket of batch) {
      if (socket) sockets.push(socket);
      else failed++;
    }
    connected = sockets.length;
    say({ connected, failed });
  }
  say({ connected, failed, done: true });
}

async function edit() {
  const latencies = [];
  let errors = 0;
  let stopped = false;
  const users = await Promise.all(
    task.users.map(async (user) => {
      const socket = await connect(user.url);
      if (!socket) return undefined;
      sockets.push(socket);
      const joined = await socket
        .timeout(20_000)
        .emitWithAck('session.join', { key: user.key })
        .catch(() => undefined);
      return joined?.ok ? { ...user, socket } : undefined;
    }),
  );
  const ready = users.filter(Boolean);
  say({ joined: ready.length, of: task.users.length });
  for (const user of ready) {
    // Spread the first writes over the interval so the load is even, as people's typing is.
    const tick = async () => {
      if (stopped) return;
      const started = performance.now();
      try {
        const ack = await user.socket
          .timeout(10_000)
          .emitWithAck('block.update', { key: user.key, id: user.id, version: user.version, content: { text: `edit at ${Date.now()}` } });
        if (ack.ok) user.version = ack.block.version;
        else if (ack.code === 'VERSION_CONFLICT') user.version = ack.current.version;
        else errors++;
        latencies.push(performance.now() - started);
      } catch {
        errors++;
      }
      setTimeout(tick, task.everyMs);
    };
    setTimeout(tick, Math.random() * task.everyMs);
  }
  const timer = setInterval(() => {
    say({ latencies: latencies.splice(0), errors });
    errors = 0;
  }, task.windowMs);
  process.on('SIGTERM', () => {
    stopped = true;
    clearInterval(timer);
    for (const socket of sockets) socket.close();
    process.exit(0);
  });
}

process.on('SIGTERM', () => {
  for (const socket of sockets) socket.close();
  process.exit(0);
});
if (task.kind === 'sockets') await holdSockets();
else await edit();
