// What the e2e suites share: the switchboard binary started with a config, on a free port.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const binary = process.env.SB_BINARY;
if (!binary) throw new Error('SB_BINARY must point at the switchboard binary');

// Starts `switchboard serve` with `toml` as its config; resolves to {port, stop}.
export async function startSwitchboard(toml) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-e2e-'));
  writeFileSync(join(dir, 'sb.toml'), toml);
  const server = spawn(binary, ['serve', '--config', join(dir, 'sb.toml'), '--listen', '127.0.0.1:0',
    '--data-dir', join(dir, 'data')], { stdio: ['ignore', 'pipe', 'inherit'] });
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
    stop() {
      server.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
