// The desktop app's real window (WebKitGTK under Xvfb), driven through tauri-driver and
// WebKitWebDriver: the Overview shows the peer id of the node the app embeds, the Idle
// compute page shows its harvest policy's decision, the Scheduler page a finished job with
// its output, and the BitChat page why there is no radio, all through the Tauri commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, freePort, freshDataDir, requireFromFrontend } from './helpers.mjs';

const { remote } = requireFromFrontend('webdriverio');

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch {
      // not ready yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('the desktop window renders the Overview with the real peer id, the Idle compute, Scheduler and BitChat pages', { timeout: 180_000 }, async () => {
  const app = process.env.FOG_DESKTOP_BIN;
  assert.ok(app, 'FOG_DESKTOP_BIN must point at the desktop binary');
  const dataDir = freshDataDir();
  const apiPort = await freePort();
  const driverPort = await freePort();
  const driver = spawn('tauri-driver', ['--port', String(driverPort)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, FOG_DATA_DIR: dataDir, FOG_API_ADDR: `127.0.0.1:${apiPort}`, FOG_MESH_LISTEN: '/ip4/127.0.0.1/tcp/0' },
  });
  let browser;
  try {
    await waitFor('tauri-driver', () => fetch(`http://127.0.0.1:${driverPort}/status`).then((r) => r.ok), 20_000);
    browser = await remote({
      hostname: '127.0.0.1',
      port: driverPort,
      logLevel: 'error',
      connectionRetryTimeout: 60_000,
      capabilities: { 'tauri:options': { application: app } },
    });
    const token = await waitFor('the API token', () => readFileSync(join(dataDir, 'api_token'), 'utf8').trim(), 30_000);
    const info = await waitFor(
      'the embedded node API',
      () =>
        fetch(`http://127.0.0.1:${apiPort}/api/node`, { headers: { Authorization: `Bearer ${token}` } }).then((r) =>
          r.ok ? r.json() : null,
        ),
      30_000,
    );
    const peerId = await browser.$('[data-testid="peer-id"]');
    await peerId.waitForExist({ timeout: 60_000 });
    await browser.waitUntil(async () => (await peerId.getText()).includes(info.peer_id), { timeout: 30_000 });
    const status = await browser.$('[data-testid="connection-status"]');
    await browser.waitUntil(async () => (await status.getText()).includes('live'), { timeout: 30_000 });
    await browser.saveScreenshot(`${artifacts}desktop.png`);

    // The Idle compute page through the Tauri commands: the policy's reason as the node states it.
    const idleLink = await browser.$('a[href="#/idle-compute"]');
    await idleLink.click();
    const reason = await browser.$('[data-testid="idle-decision-reason"]');
    await reason.waitForExist({ timeout: 30_000 });
    const stats = await waitFor(
      'idle stats',
      () =>
        fetch(`http://127.0.0.1:${apiPort}/api/idle-compute/stats`, { headers: { Authorization: `Bearer ${token}` } })
          .then((r) => (r.ok ? r.json() : null))
          .then((s) => (s && s.device ? s : null)),
      30_000,
    );
    const verb = stats.decision.reason.split(':')[0];
    await browser.waitUntil(async () => (await reason.getText()).startsWith(`${verb}:`), { timeout: 30_000 });
    await browser.saveScreenshot(`${artifacts}desktop-idle.png`);

    // The Scheduler page through the Tauri commands: a job queued over HTTP shows there, done,
    // with its output.
    const api = (path, init = {}) =>
      fetch(`http://127.0.0.1:${apiPort}${path}`, {
        ...init,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      }).then((r) => r.json());
    await api('/api/idle-compute/settings', {
      method: 'PUT',
      body: JSON.stringify({ run_while_in_use: true, max_cores_in_use: 0, cpu_pct_in_use: 100, other_cpu_suspend_pct: 0 }),
    });
    const job = await api('/api/scheduler/jobs', {
      method: 'POST',
      body: JSON.stringify({ example: 'wordcount', input: 'desk top desk\n', tier: 'gold', deadline_s: 120 }),
    });
    const schedLink = await browser.$('a[href="#/scheduler"]');
    await schedLink.click();
    const row = await browser.$(`[data-testid="sched-job-row"][data-job-id="${job.id}"][data-phase="done"]`);
    await row.waitForExist({ timeout: 60_000 });
    await (await row.$('[data-testid="sched-job-open"]')).click();
    const output = await row.$('[data-testid="sched-job-output"]');
    await output.waitForExist({ timeout: 30_000 });
    assert.match(await output.getText(), /most common desk \(2\)/);
    await browser.saveScreenshot(`${artifacts}desktop-scheduler.png`);

    // The BitChat page through the Tauri commands: no radio here, and the page says why; the
    // nickname is changed from the page.
    const chatStatus = await api('/api/bitchat/status');
    await (await browser.$('a[href="#/bitchat"]')).click();
    const radioReason = await browser.$('[data-testid="bitchat-adapter-reason"]');
    await radioReason.waitForExist({ timeout: 30_000 });
    assert.equal((await radioReason.getText()).trim(), chatStatus.adapter.reason);
    const nickname = await browser.$('[data-testid="bitchat-nickname-input"]');
    await nickname.setValue('desktop');
    await (await browser.$('[data-testid="bitchat-nickname-save"]')).click();
    await waitFor('the nickname saved', async () => (await api('/api/bitchat/status')).nickname === 'desktop', 10_000);
    await browser.saveScreenshot(`${artifacts}desktop-bitchat.png`);
  } finally {
    if (browser) await browser.deleteSession().catch(() => {});
    driver.kill('SIGTERM');
  }
});
