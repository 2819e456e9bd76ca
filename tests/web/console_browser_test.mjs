#!/usr/bin/env node
// The web console in a real browser (Debian's Chromium, driven by playwright-core) against the
// real facegated, the SHIP simulator and the door-terminal simulator, all on loopback ports
// the system picks (docs/web-console.md). Run by ctest (tests/web/CMakeLists.txt):
//
//   node tests/web/console_browser_test.mjs SOURCE_DIR BINARY_DIR
//
// Steps: sign in; add the Salto Space integration and see it Disconnected, then Connected
// when the simulator starts; reset the SHIP key, see the new key once and Unauthorized until
// Space has it; enroll a face from a photo (the quality report shown) and erase a person
// (the confirmation names them); add a device and read its code (a terminal commissions with
// it); see the events of its captures appear. A screenshot of each page goes to
// BINARY_DIR/test-artifacts/web/. Exit 0: passed; 77: skipped (no browser); else failed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

const [sourceDir, binaryDir] = process.argv.slice(2);
if (!sourceDir || !binaryDir) {
  console.error('usage: console_browser_test.mjs SOURCE_DIR BINARY_DIR');
  process.exit(2);
}
const SKIP = 77;
const chromiumPath = process.env.FACEGATE_CHROMIUM ?? '/usr/bin/chromium';
const consoleDir = path.join(binaryDir, 'web');
const artifacts = path.join(binaryDir, 'test-artifacts', 'web');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'facegate-web-test-'));
const children = [];
const timeoutMs = 30000;  // a bound on waiting for an effect, not a timing claim

function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(SKIP);
}
if (!fs.existsSync(chromiumPath)) skip(`no browser at ${chromiumPath} (Debian's chromium package)`);
if (!fs.existsSync(path.join(consoleDir, 'index.html'))) skip(`the console is not built in ${consoleDir}`);
let chromium;
try {
  ({ chromium } = createRequire(path.join(sourceDir, 'web', 'package.json'))('playwright-core'));
} catch (e) {
  skip(`playwright-core is not installed in web/node_modules (${e.message})`);
}

function log(step) {
  console.log(`[${new Date().toISOString()}] ${step}`);
}

function start(name, argv, logFile) {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
  child.label = name;
  child.logFile = logFile;
  children.push(child);
  return child;
}

function stop(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}

async function waitFor(what, fn, ms = timeoutMs) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (${last.message})` : ''}`);
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// A JSON request over TLS to a loopback server, verified against `ca`.
function request(port, ca, method, target, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: target,
        ca,
        servername: 'localhost',
        checkServerIdentity: () => undefined,  // the CA is pinned; the name is the address
        headers: { ...(data ? { 'Content-Type': 'application/json' } : {}), ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode, json, text });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    if (data) req.write(data);
    req.end();
  });
}

// --- the test site: photos, Space's data, captures (facegate-photoset, real faces)
function makeSite() {
  const site = path.join(work, 'site');
  const r = spawnSync(
    path.join(binaryDir, 'tools', 'facegate-photoset'),
    ['--site', '--models', path.join(sourceDir, 'models'), '--out', site, '--captures', '12', '--workers', '1'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, `facegate-photoset failed: ${r.stderr}`);
  return site;
}

// --- facegated
async function startDaemon() {
  const config = {
    data_dir: 'data',
    log: { level: 'info', format: 'text' },
    server: { io_threads: 2, drain_timeout_ms: 2000, ports_file: 'ports.json' },
    tls: { server_addresses: ['127.0.0.1'] },
    listeners: {
      device: { address: '127.0.0.1', port: 0 },
      admin: { address: '127.0.0.1', port: 0 },
      enrollment: { enabled: false },
    },
    face: { enabled: true, models_dir: path.join(sourceDir, 'models'), workers: 1 },
    admin: { console_dir: consoleDir },
  };
  const configFile = path.join(work, 'facegate.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const facegated = path.join(binaryDir, 'src', 'app', 'facegated');
  const init = spawnSync(facegated, ['--init', '--config', configFile], { encoding: 'utf8' });
  assert.equal(init.status, 0, `facegated --init: ${init.stderr}`);
  const token = (init.stdout + init.stderr).match(/fgt_[A-Za-z0-9_-]{43}/)?.[0];
  assert.ok(token, 'facegated --init printed no token');
  const daemon = start('facegated', [facegated, '--config', configFile], path.join(work, 'facegated.log'));
  const ports = await waitFor('facegated ready (ports file)', () => {
    if (daemon.exitCode !== null) throw new Error(`facegated exited: ${fs.readFileSync(daemon.logFile, 'utf8')}`);
    const f = path.join(work, 'ports.json');
    if (!fs.existsSync(f)) return null;
    const doc = readJson(f);
    return doc.pid === daemon.pid ? doc.ports : null;
  }, 120000);
  const ca = fs.readFileSync(path.join(work, 'data', 'pki', 'ca.crt'));
  return { token, ports, ca, caFile: path.join(work, 'data', 'pki', 'ca.crt') };
}

// --- the SHIP simulator, in a state dir of its own so that a restart keeps its certificate
function startSim(site, key, port) {
  const dir = path.join(work, 'sim');
  fs.mkdirSync(dir, { recursive: true });
  const ready = path.join(dir, 'ready.json');
  fs.rmSync(ready, { force: true });
  const argv = [
    path.join(binaryDir, 'tools', 'facegate-ship-sim'),
    '--state-dir', dir, '--data', path.join(site, 'space.json'), '--api-key', key,
    '--address', '127.0.0.1', '--port', String(port), '--ready-file', ready,
    '--exit-after', '900', '--log-level', 'warn',
  ];
  const sim = start('ship-sim', argv, path.join(dir, 'sim.log'));
  return waitFor('the SHIP simulator ready', () => {
    if (sim.exitCode !== null) throw new Error(`ship-sim exited: ${fs.readFileSync(sim.logFile, 'utf8')}`);
    return fs.existsSync(ready) ? { sim, ...readJson(ready), ca: fs.readFileSync(readJson(ready).ca_file) } : null;
  });
}

// Every form control has an accessible name (a <label>, aria-label or aria-labelledby), every
// button has text or a name, and images have alternatives: checked on each page shown.
async function checkAccessibleNames(page, where) {
  const unnamed = await page.evaluate(() => {
    const name = (e) =>
      (e.labels && e.labels.length > 0) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') ||
      e.getAttribute('title');
    const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    const out = [];
    for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (visible(e) && !name(e)) out.push(`${e.tagName.toLowerCase()}#${e.id || '?'}`);
    }
    for (const b of document.querySelectorAll('button, a[href]')) {
      if (visible(b) && !b.textContent.trim() && !b.getAttribute('aria-label')) out.push(`${b.tagName.toLowerCase()}: ${b.outerHTML.slice(0, 80)}`);
    }
    for (const i of document.querySelectorAll('img, svg[role=img]')) {
      if (visible(i) && !i.getAttribute('alt') && !i.getAttribute('aria-label') && !i.getAttribute('aria-labelledby')) out.push(`image: ${i.outerHTML.slice(0, 80)}`);
    }
    return out;
  });
  assert.deepEqual(unnamed, [], `${where}: controls without an accessible name`);
}

// WCAG 2.1 contrast of the text on the page: at least 4.5:1 (3:1 for large text), against the
// first opaque background behind it.
async function checkContrast(page, where) {
  const low = await page.evaluate(() => {
    const rgba = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const c = [r, g, b].map((v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (e) => {
      for (let n = e; n; n = n.parentElement) {
        const c = rgba(getComputedStyle(n).backgroundColor);
        if (c && c.a >= 0.99) return c;
        if (getComputedStyle(n).backgroundImage !== 'none') return null;  // not computable
      }
      return { r: 255, g: 255, b: 255, a: 1 };
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      const e = t.parentElement;
      if (!e || seen.has(e) || !t.textContent.trim()) continue;
      seen.add(e);
      if (!(e.offsetWidth || e.offsetHeight)) continue;
      const s = getComputedStyle(e);
      if (s.visibility === 'hidden' || Number(s.opacity) === 0) continue;
      const fg = rgba(s.color);
      const bg = background(e);
      if (!fg || !bg) continue;
      const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(s.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5) && !e.closest('[disabled], [aria-disabled=true]')) {
        out.push(`${ratio.toFixed(2)}:1 "${t.textContent.trim().slice(0, 40)}" (${s.color} on ${JSON.stringify(bg)})`);
      }
    }
    return out;
  });
  assert.deepEqual(low, [], `${where}: text below the WCAG AA contrast`);
}

async function main() {
  fs.mkdirSync(artifacts, { recursive: true });
  log('making the test site (facegate-photoset)');
  const site = makeSite();
  log('starting facegated');
  const d = await startDaemon();
  const admin = (method, target, body) =>
    request(d.ports.admin, d.ca, method, target, body, { Authorization: `Bearer ${d.token}` });
  // A person of Facegate's own, to enroll and erase before Space owns the people.
  let r = await admin('POST', '/api/v1/users', { external_id: 'E9001', first_name: 'Erin', last_name: 'Example' });
  assert.equal(r.status, 201, r.text);

  // The simulator once, to learn its port and certificate; it is down until the console
  // has configured the integration.
  const spaceKey = 'space-key-from-the-test';
  let sim = await startSim(site, spaceKey, 0);
  const simPort = sim.https_port;
  const simPin = sim.fingerprint;
  stop(sim.sim);
  await new Promise((res) => sim.sim.once('exit', res));

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  // A fresh profile per run (a new context is one); the daemon's CA is not in the browser's
  // store, so certificate errors are ignored for this loopback origin only.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const cspViolations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.setDefaultTimeout(timeoutMs);
  const tid = (id) => page.getByTestId(id);
  // Each page shown: a screenshot, and the accessibility checks.
  const shot = async (name) => {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
    await checkAccessibleNames(page, name);
    await checkContrast(page, name);
  };
  const origin = `https://127.0.0.1:${d.ports.admin}`;

  try {
    // --- sign in
    log('sign in');
    await page.goto(`${origin}/`);
    await tid('signin-token').fill('fgt_wrong');
    await tid('signin-submit').click();
    await tid('signin-token-error').waitFor();
    await shot('01-sign-in');
    await tid('signin-token').fill(d.token);
    await tid('signin-submit').click();
    await tid('session-name').waitFor();
    assert.equal(await tid('session-role').innerText().then((t) => t.trim().toLowerCase()), 'admin');
    // The keyboard alone reaches the navigation and opens a page.
    await page.locator('body').focus();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'nav-devices');
    }
    assert.ok(reached, 'Tab reaches the Devices link');
    await page.keyboard.press('Enter');
    await tid('page-devices').waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-facegate-session');
    assert.ok(session && session.httpOnly && session.secure && session.sameSite === 'Strict', JSON.stringify(cookies));

    // --- People: enroll a face from a photo, then erase the person
    log('people: enroll and erase');
    await tid('nav-people').click();
    await tid('people-search').fill('E9001');
    await tid('people-search-submit').click();
    await tid('person-row').first().waitFor();
    await tid('person-link').first().click();
    await tid('person-detail').waitFor();
    await tid('enroll-photo').setInputFiles(path.join(site, 'enroll', 'P01.jpg'));
    await tid('enroll-submit').click();
    await tid('enroll-result').waitFor({ timeout: 120000 });
    await tid('quality-report').waitFor();
    await tid('face-row').first().waitFor();
    await shot('02-people-enrolled');
    // Delete that face (confirmed), then enroll another photo for the erasure below.
    await tid('face-delete').first().click();
    await tid('face-delete-dialog-confirm').click();
    await tid('faces-empty').waitFor();
    await tid('enroll-photo').setInputFiles(path.join(site, 'enroll', 'P02.jpg'));
    await tid('enroll-submit').click();
    await tid('face-row').first().waitFor({ timeout: 120000 });
    await tid('person-erase').click();
    const summary = await tid('person-erase-summary').innerText();
    assert.match(summary, /E9001/);
    assert.match(summary, /1 face/);
    await shot('03-people-erase-confirm');
    await tid('person-erase-dialog-confirm').click();
    await waitFor('the person erased', async () => (await admin('GET', '/api/v1/users/E9001')).status === 404);

    // --- Integrations: add Salto Space; Disconnected, then Connected when Space starts
    log('integrations: add Salto Space');
    await tid('nav-integrations').click();
    await tid('add-integration').click();
    await tid('add-integration-toggle-space').check();
    await tid('add-integration-continue').click();
    await tid('integration-form-space').waitFor();
    if (await tid('space-enabled').count()) await tid('space-enabled').check();
    await tid('space-protocol').selectOption('https');
    await tid('space-host').fill('127.0.0.1');
    await tid('space-port').fill(String(simPort));
    await tid('space-verify-pin').check();
    await tid('space-pin').fill(simPin);
    await tid('ship-key').fill(spaceKey);
    // Probe Space every second (the timing settings are folded away by default).
    await page.locator('details:has([data-testid="space-probe-interval"]) > summary').click();
    await tid('space-probe-interval').fill('1');
    await tid('space-save').click();
    await tid('space-saved').waitFor();
    await tid('nav-integrations').click();
    const status = () => tid('integration-status-space').innerText().then((t) => t.trim());
    await waitFor('Space shown Disconnected', async () => (await status()) === 'Disconnected');
    await shot('04-integrations-disconnected');
    sim = await startSim(site, spaceKey, simPort);
    await waitFor('Space shown Connected', async () => (await status()) === 'Connected');
    await shot('05-integrations-connected');

    // --- a new SHIP key: confirmed first, shown once, Unauthorized until Space has it
    log('integrations: reset the SHIP key');
    await tid('integration-open-space').click();
    await tid('ship-key-reset').click();
    await tid('ship-key-reset-dialog-confirm').click();
    const newKey = (await tid('ship-key-new').innerText()).trim();
    assert.equal(newKey.length, 43, `new key "${newKey}"`);
    await tid('space-settings-for-space').waitFor();
    await shot('06-space-new-key');
    await tid('nav-integrations').click();
    await waitFor('Space shown Unauthorized', async () => (await status()) === 'Unauthorized');
    assert.match(await tid('integration-error-space').innerText(), /key/i);
    await shot('07-integrations-unauthorized');
    r = await request(sim.https_port, sim.ca, 'POST', '/_sim/key', { api_key: newKey });
    assert.equal(r.status, 200, r.text);
    await waitFor('Space Connected with the new key', async () => (await status()) === 'Connected');
    await tid('integration-open-space').click();
    assert.equal(await tid('ship-key-new').count(), 0, 'the new key is shown once only');
    // "Sync now" (the syncs with the old key failed): Space's doors and people come over.
    await tid('space-sync').click();
    await tid('space-sync-result').waitFor();
    await waitFor('the sync brought the doors', async () => (await admin('GET', '/api/v1/doors/D1')).status === 200);

    // --- Devices: add one, read its code; a terminal commissions with it and sends captures
    log('devices: add one');
    await tid('nav-devices').click();
    await tid('add-device').click();
    await tid('add-device-name').fill('door-1');
    await tid('add-device-door').selectOption('D1');
    await tid('add-device-submit').click();
    const code = (await tid('device-code').innerText()).trim();
    assert.ok(code.length >= 6, `code "${code}"`);
    await tid('device-qr').waitFor();
    await shot('08-devices-code');
    await tid('device-code-done').click();
    await tid('device-row').first().waitFor();

    // Enroll a Space person (P00) so that a capture of theirs is granted at D1.
    log('people: enroll P00, then captures from a terminal');
    await tid('nav-people').click();
    await tid('people-search').fill('P00');
    await tid('people-search-submit').click();
    await tid('person-link').first().click();
    await tid('enroll-photo').setInputFiles(path.join(site, 'enroll', 'P00.jpg'));
    await tid('enroll-submit').click();
    await tid('enroll-result').waitFor({ timeout: 120000 });

    const captures = readJson(path.join(site, 'captures.json'))
      .filter((c) => c.label.startsWith('P00/') || c.label.includes('stranger'))
      .map((c) => ({ ...c, file: path.join(site, c.file) }));
    assert.ok(captures.length >= 2, 'captures of P00 and of strangers');
    fs.writeFileSync(path.join(work, 'captures.json'), JSON.stringify(captures));
    fs.writeFileSync(path.join(work, 'codes.json'), JSON.stringify([code]));
    await tid('nav-events').click();
    const devsim = spawnSync(
      path.join(binaryDir, 'tools', 'facegate-devsim'),
      ['--port', String(d.ports.device), '--ca', d.caFile, '--codes', path.join(work, 'codes.json'),
        '--captures', path.join(work, 'captures.json'), '--shape', 'sustained', '--rate', '2',
        '--duration-s', '4', '--threads', '1', '--seed', '1'],
      { encoding: 'utf8', timeout: 180000 },
    );
    fs.writeFileSync(path.join(work, 'devsim.log'), `${devsim.stdout}\n${devsim.stderr}`);
    assert.equal(devsim.status, 0, `facegate-devsim: ${devsim.stdout}${devsim.stderr}`);
    // The page polls: the grants of P00 and the denials of the strangers appear without a reload.
    let decisions = [];
    await waitFor('grants and denials listed live', async () => {
      decisions = await tid('event-decision').allInnerTexts();
      return decisions.some((t) => /grant/i.test(t)) && decisions.some((t) => /den/i.test(t));
    }).catch((e) => assert.fail(`${e.message}; decisions shown: ${decisions}`));
    await shot('09-events');
    await tid('nav-devices').click();
    await waitFor('the device shown online', async () => /online/i.test(await tid('device-row').first().innerText()));
    await shot('10-devices');
    // Queue a command for its next heartbeat, then revoke it.
    await tid('device-command').first().click();
    await tid('command-type').selectOption('identify');
    await tid('command-submit').click();
    await tid('device-command-queued').waitFor();
    await tid('device-command-dialog-close').click();
    await tid('device-revoke').first().click();
    await tid('device-revoke-dialog-confirm').click();
    await waitFor('the device revoked', async () => {
      const dev = await admin('GET', '/api/v1/devices/door-1');
      return dev.status === 200 && dev.json.status === 'decommissioned';
    });

    // --- System, and the tablet width
    log('system');
    await tid('nav-system').click();
    await tid('system-version').waitFor();
    await shot('11-system');
    await page.setViewportSize({ width: 768, height: 1024 });
    await tid('nav-events').click();
    await shot('12-events-tablet');

    // --- sign out
    await tid('signout').click();
    await tid('signin-page').waitFor();
    r = await request(d.ports.admin, d.ca, 'GET', '/api/v1/session', undefined, {
      Cookie: `__Host-facegate-session=${session.value}`,
    });
    assert.equal(r.status, 401, 'the session ended at sign-out');
    assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations');
    log('passed');
  } catch (e) {
    await shot('failure').catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack ?? e}`);
  for (const c of children) {
    try {
      console.error(`--- ${c.label} log (${c.logFile}):\n${fs.readFileSync(c.logFile, 'utf8').slice(-4000)}`);
    } catch {}
  }
} finally {
  for (const c of children) stop(c);
  if (!failed) fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
