/* Shared by the headless-Chromium tests: TAP output, a wardgated started on a
 * test facility with its web server on a free port, users made with the real
 * `wardgated --add-user`, Debian's Chromium through playwright-core, logins
 * through the real login page, and screenshots kept as test artifacts in
 * $BUILD/test-artifacts/screenshots. */
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = process.env.WG_ROOT || path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
const WARDGATED = path.join(BUILD, 'wardgated');
const PLUGINS = path.join(BUILD, 'plugins');
const SHOTS = path.join(BUILD, 'test-artifacts', 'screenshots');

/* ---- TAP ---- */
let tapCount = 0;
let tapFailed = 0;
function ok(cond, description, diag) {
  tapCount++;
  if (cond) {
    console.log(`ok ${tapCount} - ${description}`);
  } else {
    tapFailed++;
    console.log(`not ok ${tapCount} - ${description}`);
    if (diag !== undefined) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
  }
  return cond;
}
function note(text) { console.log(`# ${text}`); }
/* A check that cannot run yet, with the reason (TAP SKIP). */
function skip(description, reason) {
  tapCount++;
  console.log(`ok ${tapCount} - ${description} # SKIP ${reason}`);
}
function doneTesting() { console.log(`1..${tapCount}`); return tapFailed; }

/* ---- scratch space and ports ---- */
function scratchDir(name) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `wgweb-${name}-`));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ---- the daemon ---- */

/* The rules of the example facility that the small one needs: calls, pull
 * cords, presence/reset. (No smoke rule: the small facility has no smoke
 * detector, and a rule whose meaning no device has is a config error.) */
const RULES = `rules:
  - {id: bed-call, kind: call, meaning: call_button, priority: normal}
  - {id: bathroom-cord, kind: pull_cord, meaning: pull_cord, priority: emergency}
  - {id: door-presence, kind: presence, meaning: presence}
`;

/* Writes the small test facility (tests/integration/fixtures/small.yaml.in)
 * with the web server on `port` and optional extra sim bus settings
 * (YAML lines, indented 6 spaces, e.g. "      control: /tmp/x.fifo"). */
function writeConfig(dir, port, simSettings = '') {
  const src = fs.readFileSync(path.join(ROOT, 'tests/integration/fixtures/small.yaml.in'), 'utf8');
  let text = src.replace(/@ROOT@/g, ROOT).replace('@SCRIPT@\n', simSettings ? `${simSettings}\n` : '');
  text = text.replace(/^web:[\s\S]*?(?=^\S|$(?![\s\S]))/m, '');
  text += `\n${RULES}`;
  text += `\nweb:\n  enabled: true\n  listen: 127.0.0.1\n  port: ${port}\n  root: ${path.join(ROOT, 'web')}\n`;
  const file = path.join(dir, 'facility.yaml');
  fs.writeFileSync(file, text);
  return file;
}

/* A busy floor for the station display (tests/browser/busy.test.js): 20
 * two-bed rooms on two floors, a call point at each bed (normal), a bed
 * sensor at each A bed of the first 14 rooms whose restlessness rule raises
 * an urgent "vital signs" call, a pull cord in the bathrooms of the last 6
 * rooms (emergency) and a presence/reset unit at each door: 80 sim devices,
 * all driven through the control FIFO. Returns {file, rooms, calls}: calls
 * lists {device, point, value, priority, room, bed} for the 60 points that
 * raise a call. */
const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '周', '吴', '欧阳', '司马'];
const GIVEN = ['秀英', '桂兰', '玉兰', '淑珍', '建国', '德明', '凤英', '志强', '丽华', '国庆'];
function writeBusyConfig(dir, port, fifo) {
  const rooms = [];
  for (const floor of [2, 3]) for (let n = 1; n <= 10; n++) rooms.push({ id: `${floor}${String(n).padStart(2, '0')}`, floor });
  const zones = [2, 3].map((floor) => [
    `  - id: f${floor}`,
    `    name: ${floor === 2 ? '二楼（介助区）' : '三楼（介护区）'}`,
    `    floor: ${floor}`,
    '    rooms:',
    ...rooms.filter((r) => r.floor === floor).map((r) => `      - {id: "${r.id}", name: ${r.id}室, kind: resident, beds: [A, B]}`),
  ].join('\n'));
  const residents = [];
  const devices = [];
  const calls = [];
  let address = 1;
  rooms.forEach((room, i) => {
    for (const bed of ['A', 'B']) {
      const k = i * 2 + (bed === 'A' ? 0 : 1);
      residents.push(`  - {id: R-${room.id}${bed}, label: "${SURNAMES[k % SURNAMES.length]}${GIVEN[(k * 7) % GIVEN.length]}", bed: ${room.id}-${bed}, care_level: ${1 + (k % 4)}}`);
      devices.push(`  - {id: call-${room.id}${bed}, bus: sim1, address: ${address++}, profile: call-point, bed: ${room.id}-${bed}, poll_ms: 200}`);
      calls.push({ device: `call-${room.id}${bed}`, point: 'call', value: 1, priority: 'normal', kind: 'call', room: room.id, bed: `${room.id}-${bed}` });
    }
    devices.push(`  - {id: presence-${room.id}, bus: sim1, address: ${address++}, profile: presence-reset, room: "${room.id}", poll_ms: 200}`);
    if (i < 14) {
      devices.push(`  - {id: bed-${room.id}A, bus: sim1, address: ${address++}, profile: bed-sensor-r60abd1, bed: ${room.id}-A, poll_ms: 200}`);
      calls.push({ device: `bed-${room.id}A`, point: 'movement', value: 99, priority: 'urgent', kind: 'vital_signs', room: room.id, bed: `${room.id}-A` });
    } else {
      devices.push(`  - {id: cord-${room.id}, bus: sim1, address: ${address++}, profile: pull-cord, room: "${room.id}", spot: bathroom, poll_ms: 200}`);
      calls.push({ device: `cord-${room.id}`, point: 'cord', value: 1, priority: 'emergency', kind: 'pull_cord', room: room.id, bed: null });
    }
  });
  const text = [
    '# The busy floor of tests/browser/busy.test.js (written by lib.js writeBusyConfig).',
    'site:', '  id: busy-home', '  name: 安园养老院 二、三楼', '  district: test-district',
    'log:', '  level: info',
    'profiles:', `  - "${path.join(ROOT, 'config/profiles')}/*.yaml"`,
    'zones:', ...zones,
    'residents:', ...residents,
    'buses:', '  - id: sim1', '    driver: sim', '    settings:', '      scenario: quiet', '      seed: 7', `      control: ${fifo}`,
    'devices:', ...devices,
    'rules:',
    '  - {id: bed-call, kind: call, meaning: call_button, priority: normal}',
    '  - {id: bathroom-cord, kind: pull_cord, meaning: pull_cord, priority: emergency}',
    '  - {id: door-presence, kind: presence, meaning: presence}',
    '  - {id: restless, kind: vital_range, meaning: movement, low: -1, high: 90, for_s: 0, priority: urgent, reset_on_normal: true}',
    'web:', '  enabled: true', '  listen: 127.0.0.1', `  port: ${port}`, `  root: ${path.join(ROOT, 'web')}`, '',
  ].join('\n');
  const file = path.join(dir, 'facility.yaml');
  fs.writeFileSync(file, text);
  return { file, rooms: rooms.map((r) => r.id), calls };
}

/* One command line into the sim's control FIFO; O_NONBLOCK so a dead daemon fails fast. */
function fifoWriter(fifo) {
  return (line) => {
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try { fs.writeSync(fd, `${line}\n`); } finally { fs.closeSync(fd); }
  };
}

/* Adds a user with the real CLI; the password goes through a 0600 file. */
function addUser(config, db, username, role, password) {
  const pwFile = path.join(path.dirname(db), `.pw-${username}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    execFileSync(WARDGATED, ['-c', config, '--db', db, '--add-user', username, '--role', role,
      '--password-file', pwFile], { stdio: 'pipe' });
  } finally {
    fs.unlinkSync(pwFile);
  }
}

class Daemon {
  constructor(config, db, port, logFile) {
    Object.assign(this, { config, db, port, logFile, proc: null });
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(timeoutMs = 15000) {
    const log = fs.openSync(this.logFile, 'a');
    this.proc = spawn(WARDGATED, ['-c', this.config, '--db', this.db, '--plugin-dir', PLUGINS],
      { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    const exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.status === 200) return;
      } catch (e) { /* not listening yet */ }
      if (this.proc.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`wardgated did not become healthy; log:\n${this.log().slice(-3000)}`);
  }

  log() { return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : ''; }

  /* Signals the daemon and waits for it to exit. */
  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill(signal);
    await this.exited;
  }
}

/* ---- the browser ---- */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/* `extraArgs`: more Chromium switches (phone-setup.test.js trusts its test
 * certificate and maps a host name with them). */
async function launchBrowser(extraArgs = []) {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/* A new page at 1920x1080 (the wall display's screen) or `viewport`, in its
 * own context (its own cookies), with the page's console errors collected. */
async function newPage(browser, lang, viewport = { width: 1920, height: 1080 }, contextOptions = {}) {
  const context = await browser.newContext({ viewport, ...contextOptions });
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') page.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  if (lang) await page.addInitScript((l) => localStorage.setItem('wg.lang', l), lang);
  return page;
}

/* Logs in through the real login page, then lands on `next`. */
async function login(page, baseUrl, username, password, next = '/') {
  await page.goto(`${baseUrl}/login.html?next=${encodeURIComponent(next)}`);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login.html'), { timeout: 10000 }),
    page.click('#login-submit')]);
}

/* axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now. The
 * engine comes from the test's node_modules and is evaluated through the
 * DevTools protocol (the page's CSP allows no inline script, and the daemon
 * never serves axe). Resolves to the violations of impact serious or
 * critical, each {id, impact, help, targets: [selector...], html}. */
let axeSource = null;
async function axeSerious(page, context) {
  if (!axeSource) axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(`${axeSource}\n;0`);
  const result = await page.evaluate(async (ctx) => window.axe.run(ctx || document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    resultTypes: ['violations'],
  }), context || null);
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ')), html: v.nodes.slice(0, 3).map((n) => n.html),
  }));
}

/* The three screens every page is checked on: the nurse station's wall
 * screen, a laptop or tablet, a phone. */
const VIEWPORTS = [
  { name: '1920x1080', width: 1920, height: 1080 },
  { name: '1280x800', width: 1280, height: 800 },
  { name: '390x844', width: 390, height: 844 },
];

async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  note(`screenshot ${path.relative(ROOT, file)}`);
  return file;
}

/* A JSON request from inside the page, with the page's session and CSRF
 * token: {status, data} (data null when the reply is not JSON). */
async function pageApi(page, method, url, body) {
  return page.evaluate(async ([m, u, b]) => {
    const s = await (await fetch('/api/v1/session')).json().catch(() => ({}));
    const headers = { Accept: 'application/json' };
    if (b !== null) headers['Content-Type'] = 'application/json';
    if (m !== 'GET' && s.csrf) headers['X-CSRF-Token'] = s.csrf;
    const r = await fetch(u, { method: m, headers, body: b === null ? undefined : JSON.stringify(b) });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }, [method, url, body === undefined ? null : body]);
}

module.exports = {
  ROOT, BUILD, WARDGATED, ok, note, skip, doneTesting, scratchDir, freePort, sleep, writeConfig, writeBusyConfig,
  fifoWriter, addUser, Daemon, launchBrowser, newPage, login, screenshot, axeSerious, VIEWPORTS, pageApi,
};
