// Shared helpers of the end-to-end tests: a real `fog node` on 127.0.0.1 with a fresh data dir.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Browser drivers are dev dependencies of the frontend package.
export const requireFromFrontend = createRequire(new URL('../../frontend/package.json', import.meta.url));
export const artifacts = new URL('./artifacts/', import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

export function freshDataDir() {
  return mkdtempSync(join(tmpdir(), 'fog-e2e-'));
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `fog node` and resolves once it prints its API URL. */
export async function startNode({ config } = {}) {
  const bin = process.env.FOG_BIN;
  if (!bin) throw new Error('FOG_BIN must point at the fog binary');
  const dataDir = freshDataDir();
  const args = ['node', '--data-dir', dataDir, '--api-addr', '127.0.0.1:0', '--mesh-listen', '/ip4/127.0.0.1/tcp/0'];
  if (config) {
    const file = join(dataDir, 'e2e.toml');
    writeFileSync(file, config);
    args.push('--config', file);
  }
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FOG_LOG: 'info' },
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fog node did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      const match = output.match(/API\s+(http:\/\/127\.0\.0\.1:\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`fog node exited with ${code}:\n${output}`)));
  });
  const token = readFileSync(join(dataDir, 'api_token'), 'utf8').trim();
  return {
    url,
    token,
    dataDir,
    /** Sends SIGTERM and resolves with the exit code. */
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** Calls the node's HTTP API with its token. */
export async function callApi(node, path, init = {}) {
  const response = await fetch(`${node.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${node.token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** Lets the node's harvester run jobs whoever sits at this machine and however busy the other tests keep it. */
export function letJobsRun(node) {
  return callApi(node, '/api/idle-compute/settings', {
    method: 'PUT',
    body: JSON.stringify({ run_while_in_use: true, max_cores_in_use: 0, cpu_pct_in_use: 100, other_cpu_suspend_pct: 0 }),
  });
}

/** Two free UDP ports on 127.0.0.1 (bound, read, released). */
export async function freeUdpPorts(count) {
  const sockets = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise((resolve) => {
        const socket = createSocket('udp4');
        socket.bind(0, '127.0.0.1', () => resolve(socket));
      }),
    ),
  );
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The config that puts a node's BitChat on the loopback simulated radio. */
export function simulatedRadioConfig(listen, neighbours, nickname) {
  const quoted = neighbours.map((p) => `"127.0.0.1:${p}"`).join(', ');
  return `[bitchat]\nnickname = "${nickname}"\n\n[bitchat.simulated_radio]\nlisten = "127.0.0.1:${listen}"\nneighbours = [${quoted}]\n`;
}
