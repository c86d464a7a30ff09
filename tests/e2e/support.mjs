// What the e2e suites share: the switchboard binary started with a config, on a free port.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const binary = process.env.SB_BINARY;
if (!binary) throw new Error('SB_BINARY must point at the switchboard binary');

// Starts `switchboard serve` with `toml` as its config (and `env` added to the environment);
// resolves to {port, stop}.
export async function startSwitchboard(toml, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-e2e-'));
  writeFileSync(join(dir, 'sb.toml'), toml);
  const server = spawn(binary, ['serve', '--config', join(dir, 'sb.toml'), '--listen', '127.0.0.1:0',
    '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    server.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/"msg":"listening","address":"127\.0\.0\.1:(\d+)"/);
      if (m) resolve(Number(m[1]));
    });
    server.on('exit', (code) => reject(new Error(`switchboard exited with ${code}`)));
  });
  server.stdout.resume();
  return {
    port,
    // Resolves once the server has exited and its data dir is gone (it writes until it exits).
    stop() {
      const gone = new Promise((resolve) => {
        if (server.exitCode !== null || server.signalCode !== null) resolve();
        else server.once('exit', resolve);
      }).then(() => rmSync(dir, { recursive: true, force: true }));
      server.kill('SIGTERM');
      return gone;
    },
  };
}

// A fake upstream on a free port: `answer(req, body)` returns {status?, type, text} for each
// request (its JSON body parsed). Resolves to {server, base} ("http://127.0.0.1:PORT").
export async function startUpstream(answer) {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const a = answer(req, JSON.parse(raw));
      res.writeHead(a.status ?? 200, { 'Content-Type': a.type });
      res.end(a.text);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}
