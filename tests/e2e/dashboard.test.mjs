// The dashboard served by a real `fog node`, in Debian's Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  artifacts,
  callApi,
  freshDataDir,
  freeUdpPorts,
  letJobsRun,
  requireFromFrontend,
  simulatedRadioConfig,
  startNode,
} from './helpers.mjs';

const { chromium } = requireFromFrontend('playwright-core');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function withBrowser(fn) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    await fn(page);
  } finally {
    await browser.close();
  }
}

test('the overview shows the real peer id and a new event appears live', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    const info = await callApi(node, '/api/node');
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=${node.token}`);
      await page.getByTestId('peer-id').filter({ hasText: info.peer_id }).waitFor({ timeout: 30_000 });
      await page.getByTestId('connection-status').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 });
      assert.ok(!page.url().includes(node.token), 'the token does not stay in the address bar');

      const level = 'info,fog_node=debug';
      await callApi(node, '/api/settings', { method: 'PUT', body: JSON.stringify({ log_level: level }) });
      const item = page.getByTestId('event-item').filter({ hasText: 'settings.changed' }).first();
      await item.waitFor({ timeout: 30_000 });
      assert.match(await item.innerText(), /fog_node=debug/);
      await page.screenshot({ path: `${artifacts}overview.png` });

      await page.goto(`${node.url}/#/logs`);
      await page.getByText('node started').first().waitFor({ timeout: 30_000 });
      await page.screenshot({ path: `${artifacts}logs.png` });
    });
  } finally {
    assert.equal(await node.stop(), 0, 'fog node exits cleanly on SIGTERM');
  }
});

test('a wrong token leads to the login form, not a broken page', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=wrong`);
      await page.getByRole('textbox').first().waitFor({ timeout: 30_000 });
      assert.match(await page.locator('body').innerText(), /token/i);
      await page.screenshot({ path: `${artifacts}login.png` });
    });
  } finally {
    await node.stop();
  }
});

test('the Mesh page shows a peer connected through the API, live', { timeout: 120_000 }, async () => {
  const a = await startNode();
  const b = await startNode();
  try {
    await withBrowser(async (page) => {
      await page.goto(`${a.url}/#token=${a.token}`);
      await page.goto(`${a.url}/#/mesh`);
      const stats = await callApi(a, '/api/p2p/stats');
      await page.getByTestId('mesh-peer-id').filter({ hasText: stats.peer_id }).waitFor({ timeout: 30_000 });

      const bInfo = await callApi(b, '/api/node');
      await fetch(`${b.url}/api/p2p/connect`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${b.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ addr: stats.listen_addrs[0] }),
      });
      const row = page.getByTestId('mesh-peer-row').first();
      await row.waitFor({ timeout: 30_000 });
      assert.match(await row.innerText(), /inbound/);
      assert.equal(await row.getAttribute('data-peer-id'), bInfo.peer_id);
      await page.screenshot({ path: `${artifacts}mesh.png`, fullPage: true });
    });
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('the Idle compute page runs an example job in the sandbox and shows its result', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    await letJobsRun(node);
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=${node.token}`);
      await page.goto(`${node.url}/#/idle-compute`);
      const reason = page.getByTestId('idle-decision-reason');
      await reason.filter({ hasText: /^(running|throttled): / }).waitFor({ timeout: 30_000 });
      const stats = await callApi(node, '/api/idle-compute/stats');
      assert.equal(stats.decision.mode === 'pause', false, stats.decision.reason);

      await page.getByTestId('idle-example-select').selectOption('wordcount');
      await page.getByTestId('idle-example-input').fill('one two two\n');
      await page.getByTestId('idle-example-run').click();
      const done = page.locator('[data-testid="idle-job-row"][data-state="completed"]').first();
      await done.waitFor({ timeout: 30_000 });
      const output = await done.getByTestId('idle-job-output').innerText();
      assert.match(output, /words 3/);
      assert.match(output, /most common two \(2\)/);
      const jobId = await done.getAttribute('data-job-id');
      const job = await callApi(node, `/api/idle-compute/jobs/${jobId}`);
      assert.equal(job.state, 'completed');
      assert.equal(job.output_text, output.trim() + '\n');
      await page.screenshot({ path: `${artifacts}idle-compute.png`, fullPage: true });
    });
  } finally {
    await node.stop();
  }
});

test('the Scheduler page places a gold job, shows its result and the round that placed it', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    await letJobsRun(node);
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=${node.token}`);
      await page.goto(`${node.url}/#/scheduler`);
      await page.getByTestId('sched-no-round').waitFor({ timeout: 30_000 });

      await page.getByTestId('sched-example-select').selectOption('wordcount');
      await page.getByTestId('sched-example-input').fill('one two two\n');
      await page.getByTestId('sched-tier-gold').check();
      await page.getByTestId('sched-submit').click();
      await page.getByTestId('sched-submitted').waitFor({ timeout: 30_000 });

      const done = page.locator('[data-testid="sched-job-row"][data-phase="done"][data-tier="gold"]').first();
      await done.waitFor({ timeout: 60_000 });
      assert.equal(await done.getByTestId('sched-job-deadline').getAttribute('data-deadline'), 'met');
      await done.getByTestId('sched-job-open').click();
      const output = await done.getByTestId('sched-job-output').innerText();
      assert.match(output, /words 3/);
      assert.match(output, /most common two \(2\)/);
      await done.getByTestId('sched-attempt-row').first().waitFor({ timeout: 30_000 });

      const jobId = await done.getAttribute('data-job-id');
      const detail = await callApi(node, `/api/scheduler/jobs/${jobId}`);
      assert.equal(detail.job.tier, 'gold');
      assert.equal(detail.job.result.output_text, output.trim() + '\n');
      assert.equal(detail.attempts.at(-1).outcome, 'done');

      const chosen = page.getByTestId('pareto-chosen');
      await chosen.waitFor({ timeout: 30_000 });
      assert.equal(await chosen.count(), 1);
      const stats = await callApi(node, '/api/scheduler/stats');
      assert.ok(stats.last_round, 'the node reports the round that placed the job');
      assert.equal(await chosen.getAttribute('data-index'), String(stats.last_round.chosen));
      await page.screenshot({ path: `${artifacts}scheduler.png`, fullPage: true });
    });
  } finally {
    await node.stop();
  }
});

test('the Benchmarks page runs the optimiser benchmark in the node and shows its figures', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=${node.token}`);
      await page.goto(`${node.url}/#/benchmarks`);
      await page.getByTestId('bench-empty').waitFor({ timeout: 30_000 });
      await page.getByTestId('bench-nsga-gens').fill('100');
      await page.getByTestId('bench-run-nsga').click();
      const result = page.locator('[data-testid="bench-result"][data-suite="nsga"]').first();
      await result.waitFor({ timeout: 60_000 });
      assert.match(await result.innerText(), /population 100 × 100 generations/);
      const [stored] = await callApi(node, '/api/bench/results');
      const hv = stored.figures.find((f) => f.name.startsWith('hypervolume'));
      assert.ok(hv.value > 0.5, JSON.stringify(hv));
      const rows = result.getByTestId('bench-figure');
      assert.equal(await rows.count(), stored.figures.length);
      await page.screenshot({ path: `${artifacts}benchmarks.png`, fullPage: true });
    });
  } finally {
    await node.stop();
  }
});

test('the BitChat page of a node without Bluetooth says why, and history stays readable', { timeout: 120_000 }, async () => {
  const node = await startNode();
  try {
    await withBrowser(async (page) => {
      await page.goto(`${node.url}/#token=${node.token}`);
      await page.goto(`${node.url}/#/bitchat`);
      const reason = page.getByTestId('bitchat-adapter-reason');
      await reason.waitFor({ timeout: 30_000 });
      const status = await callApi(node, '/api/bitchat/status');
      assert.equal(status.adapter.state, 'unavailable');
      assert.equal((await reason.innerText()).trim(), status.adapter.reason);
      assert.match(await page.getByTestId('bitchat-peers-reason').innerText(), /Without a radio/);
      assert.equal(await page.getByTestId('bitchat-composer-send').isDisabled(), true);
      assert.equal(await page.getByTestId('bitchat-simulated').count(), 0);
      await page.screenshot({ path: `${artifacts}bitchat-no-radio.png`, fullPage: true });
    });
  } finally {
    await node.stop();
  }
});

test('two nodes on the simulated radio chat from the BitChat page, publicly and privately', { timeout: 120_000 }, async () => {
  const [portA, portB] = await freeUdpPorts(2);
  const a = await startNode({ config: simulatedRadioConfig(portA, [portB], 'alice') });
  const b = await startNode({ config: simulatedRadioConfig(portB, [portA], 'bob') });
  try {
    const bob = (await callApi(b, '/api/bitchat/status')).peer_id;
    const alice = (await callApi(a, '/api/bitchat/status')).peer_id;
    await withBrowser(async (page) => {
      await page.goto(`${a.url}/#token=${a.token}`);
      await page.goto(`${a.url}/#/bitchat`);
      await page.getByTestId('bitchat-simulated').waitFor({ timeout: 30_000 });
      const row = page.locator(`[data-testid="bitchat-peer-row"][data-peer-id="${bob}"]`);
      await row.waitFor({ timeout: 30_000 });
      assert.match(await row.getByTestId('bitchat-peer-reach').innerText(), /reachable/);

      await page.getByTestId('bitchat-composer-input').fill('hello from the page');
      await page.getByTestId('bitchat-composer-send').click();
      await page.locator('[data-testid="bitchat-message"]', { hasText: 'hello from the page' }).waitFor();
      await waitFor(async () => (await callApi(b, '/api/bitchat/messages?channel=%23mesh')).some((m) => m.text === 'hello from the page'));

      await row.getByTestId('bitchat-peer-message').click();
      await page.getByTestId('bitchat-composer-input').fill('just for bob');
      await page.getByTestId('bitchat-composer-send').click();
      const sent = page.locator('[data-testid="bitchat-message"]', { hasText: 'just for bob' });
      await sent.locator('[data-testid="bitchat-tick"][data-state="delivered"]').waitFor({ timeout: 30_000 });
      const got = await callApi(b, `/api/bitchat/messages?channel=${alice}`);
      assert.ok(got.some((m) => m.text === 'just for bob' && m.private && !m.outgoing));
      await callApi(b, `/api/bitchat/peers/${alice}/read`, { method: 'POST' });
      await sent.locator('[data-testid="bitchat-tick"][data-state="read"]').waitFor({ timeout: 30_000 });
      await page.screenshot({ path: `${artifacts}bitchat.png`, fullPage: true });
    });
  } finally {
    await a.stop();
    await b.stop();
  }
});

/** `fog testnet` as a child process: resolves with its JSON report once every node is connected. */
async function startTestnet(args) {
  const bin = process.env.FOG_BIN;
  const dir = freshDataDir();
  // Ports P+1… (APIs) and P+101… (mesh) below Linux's ephemeral range, spread by process id.
  const base = 20_000 + (process.pid % 50) * 200;
  const child = spawn(bin, ['testnet', '--json', '--dir', dir, '--base-port', String(base), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const report = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fog testnet did not start within 60 s:\n${output}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`fog testnet exited with ${code}:\n${output}`)));
  });
  const nodes = report.nodes.map((n) => ({
    url: n.api_url,
    token: readFileSync(n.token_file, 'utf8').trim(),
    peerId: n.peer_id,
  }));
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve(child.exitCode);
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { nodes, stop };
}

test('on a 7-node testnet the Betanet page deploys a mixnode, sends a message and its reply comes back', { timeout: 240_000 }, async () => {
  const testnet = await startTestnet(['--nodes', '7', '--mixnodes', '5']);
  try {
    const [receiver, , , , , deployer, sender] = testnet.nodes;
    await waitFor(async () => (await callApi(sender, '/api/betanet/status')).topology.usable, 60_000);
    await withBrowser(async (page) => {
      // Node 6 deploys its mixnode from the page and takes a layer.
      await page.goto(`${deployer.url}/#token=${deployer.token}`);
      await page.goto(`${deployer.url}/#/betanet`);
      const deploy = page.getByTestId('betanet-deploy');
      await deploy.waitFor({ timeout: 30_000 });
      assert.equal(await deploy.getAttribute('data-deployed'), 'false');
      await deploy.click();
      await page.locator('[data-testid="betanet-deploy"][data-deployed="true"]').waitFor({ timeout: 30_000 });
      await page.locator(`[data-testid="betanet-topology"] [data-peer-id="${deployer.peerId}"]`).waitFor({ timeout: 60_000 });
      await waitFor(async () => (await callApi(sender, '/api/betanet/status')).topology.layers.flat().length === 6, 60_000);

      // Node 7's page sends to node 1 and shows it acknowledged.
      await page.goto(`${sender.url}/#token=${sender.token}`);
      await page.goto(`${sender.url}/#/betanet`);
      for (const layer of [1, 2, 3]) await page.getByTestId(`betanet-layer-${layer}`).waitFor({ timeout: 30_000 });
      await page.getByTestId('betanet-client-stats').waitFor();
      await page.getByTestId('betanet-send-to').selectOption(receiver.peerId);
      await page.getByTestId('betanet-send-text').fill('hello through three layers');
      await page.getByTestId('betanet-send-submit').click();
      const sent = page.locator('[data-testid="betanet-message"]', { hasText: 'hello through three layers' });
      await sent.and(page.locator('[data-state="delivered"]')).waitFor({ timeout: 60_000 });

      // Node 1's page shows it from an anonymous sender and replies through its SURBs.
      await page.goto(`${receiver.url}/#token=${receiver.token}`);
      await page.goto(`${receiver.url}/#/betanet`);
      const got = page.locator('[data-testid="betanet-message"][data-state="received"]', { hasText: 'hello through three layers' });
      await got.waitFor({ timeout: 30_000 });
      await got.getByTestId('betanet-reply-button').click();
      await got.getByTestId('betanet-reply-text').fill('an anonymous reply');
      await got.getByTestId('betanet-reply-submit').click();
      await page.getByTestId('betanet-reply-sent').waitFor({ timeout: 30_000 });
      await page.screenshot({ path: `${artifacts}betanet-receiver.png`, fullPage: true });

      // The reply reaches node 7's page, live.
      await page.goto(`${sender.url}/#/betanet`);
      const reply = page.locator('[data-testid="betanet-message"][data-state="received"]', { hasText: 'an anonymous reply' });
      await reply.waitFor({ timeout: 60_000 });
      await reply.getByTestId('betanet-in-reply-to').waitFor();
      const stats = await callApi(sender, '/api/betanet/status');
      assert.ok(stats.client.cover_per_s > 0, 'cover traffic flows');
      assert.ok(stats.client.loop_rtt_ms > 0, 'loops come back');
      await page.screenshot({ path: `${artifacts}betanet.png`, fullPage: true });
    });
  } finally {
    assert.equal(await testnet.stop(), 0);
  }
});

async function waitFor(check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
