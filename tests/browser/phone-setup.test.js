/* The phone setup page (issue 16, item 2) in headless Chromium, against a
 * real wardgated serving plain HTTP and HTTPS (web.tls_port) with a
 * certificate made by tools/facility-ca.sh. Chromium reaches the gateway by
 * the name gateway.test (--host-resolver-rules), so that plain HTTP is not a
 * secure context (127.0.0.1 would be), and trusts the test certificate by
 * its key's hash (--ignore-certificate-errors-spki-list). Over HTTPS the
 * page is a secure context and lists nothing missing; over HTTP it says
 * which features a phone loses; both QR codes are drawn, the links lead to
 * /ca.crt and to the carer app over https; words in Chinese by default,
 * English on the toggle. axe-core finds nothing serious; screenshots at
 * 1920x1080, 1280x800 and 390x844. */
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const WAIT = 15000;
const HOST = 'gateway.test';

/* base64 of the SHA-256 of the certificate's public key (what Chromium's
 * --ignore-certificate-errors-spki-list takes). */
function spkiHash(certFile) {
  const pub = execFileSync('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'DER'], { input: pub });
  return require('crypto').createHash('sha256').update(der).digest('base64');
}

/* The visible words of the page, without the brand, the language button
 * and the addresses (URLs are not words). */
async function pageWords(page) {
  return page.evaluate(() => {
    const skip = new Set(['lang-toggle', 'addr-ca', 'addr-app']);
    const parts = [];
    const walk = (el) => {
      if (skip.has(el.id) || el.classList.contains('brand') || el.offsetParent === null && el.tagName !== 'BODY') return;
      for (const n of el.childNodes) {
        if (n.nodeType === Node.TEXT_NODE) parts.push(n.textContent);
        else if (n.nodeType === Node.ELEMENT_NODE) walk(n);
      }
    };
    walk(document.body);
    return parts.join(' ').replace(/\s+/g, ' ').trim();
  });
}

/* The whole page (the phone scrolls it), beside lib.screenshot's. */
async function fullShot(page, name) {
  const dir = path.join(lib.BUILD, 'test-artifacts', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  note(`screenshot ${path.relative(lib.ROOT, file)}`);
}

async function qrDrawn(page) {
  await page.waitForFunction(() => ['qr-ca', 'qr-app'].every((id) => {
    const img = document.getElementById(id);
    return img && img.src && img.complete && img.naturalWidth > 0;
  }), null, { timeout: WAIT });
}

async function main() {
  const dir = lib.scratchDir('phone');
  const tool = path.join(lib.ROOT, 'tools/facility-ca.sh');
  const ca = path.join(dir, 'ca');
  const tls = path.join(dir, 'tls');
  execFileSync(tool, ['--ca-dir', ca, '--tls-dir', tls, 'ca', '测试养老院'], { stdio: 'pipe' });
  execFileSync(tool, ['--ca-dir', ca, '--tls-dir', tls, 'server', HOST, '127.0.0.1'], { stdio: 'pipe' });
  const port = await lib.freePort();
  const tlsPort = await lib.freePort();
  const config = lib.writeConfig(dir, port);
  fs.appendFileSync(config, `  tls_port: ${tlsPort}\n  tls_cert: ${tls}/server.crt\n  tls_key: ${tls}/server.key\n`
    + `  tls_ca: ${tls}/ca.crt\n`);
  const db = path.join(dir, 'wardgate.db');
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const http = `http://${HOST}:${port}`;
  const https = `https://${HOST}:${tlsPort}`;
  note(`wardgated on ${http} and ${https}, scratch ${dir}`);
  const browser = await lib.launchBrowser([
    `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
    `--ignore-certificate-errors-spki-list=${spkiHash(path.join(tls, 'server.crt'))}`,
    '--disable-features=HttpsUpgrades',
  ]);
  const pages = [];
  try {
    /* ---- over HTTPS: a secure context, nothing missing ---- */
    const secure = await lib.newPage(browser, null, { width: 390, height: 844 });
    pages.push(secure);
    await secure.goto(`${https}/phone.html`);
    await qrDrawn(secure);
    const state = await secure.evaluate(() => ({
      secureContext: window.isSecureContext,
      cls: document.getElementById('phone-secure').className,
      missing: document.querySelectorAll('#phone-missing li').length,
      text: document.getElementById('phone-secure').textContent,
      ca: document.getElementById('link-ca').href,
      app: document.getElementById('link-app').href,
      lang: document.documentElement.lang,
    }));
    ok(state.secureContext === true, 'over HTTPS (the facility certificate trusted) the page is a secure context', JSON.stringify(state));
    ok(state.cls.includes('ok') && state.missing === 0 && /安全连接打开/.test(state.text),
      'it lists nothing missing and says so in Chinese', JSON.stringify(state));
    ok(state.ca === `http://${HOST}:${port}/ca.crt` && state.app === `https://${HOST}:${tlsPort}/carer.html`,
      'its links lead to the certificate and to the carer app over https, by the name the phone used', JSON.stringify(state));
    ok(state.lang === 'zh-CN', 'Chinese by default', state.lang);
    const words = await pageWords(secure);
    ok(!/[A-Za-z]/.test(words), 'no English inside the Chinese words', words);
    ok(!/\/(etc|usr|var|tmp|home|root)\//.test(await secure.textContent('body')) && !/[{}]/.test(words),
      'no server path or raw JSON on screen', words);
    for (const vp of lib.VIEWPORTS) {
      await secure.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(200);
      const over = await secure.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      ok(over <= 1, `HTTPS ${vp.name}: the page does not run off the side`, `${over} px over`);
      const found = await lib.axeSerious(secure);
      ok(found.length === 0, `axe: nothing serious at ${vp.name} (HTTPS)`, JSON.stringify(found, null, 1));
      await fullShot(secure, `phone-setup-https-${vp.name}`);
    }

    /* ---- over plain HTTP: what is missing, in words ---- */
    const plain = await lib.newPage(browser, null, { width: 390, height: 844 });
    pages.push(plain);
    await plain.goto(`${http}/phone.html`);
    await qrDrawn(plain);
    const plainState = await plain.evaluate(() => ({
      secureContext: window.isSecureContext,
      cls: document.getElementById('phone-secure').className,
      items: Array.from(document.querySelectorAll('#phone-missing li')).map((li) => li.textContent),
      text: document.getElementById('phone-secure').textContent,
    }));
    ok(plainState.secureContext === false && plainState.cls.includes('missing'),
      'over plain HTTP the page is not a secure context and says so', JSON.stringify(plainState));
    ok(plainState.items.length === 3 && /通知提醒/.test(plainState.items[0]) && /保持亮屏/.test(plainState.items[1])
      && /离线使用/.test(plainState.items[2]),
      `it names what is missing: ${plainState.items.join('；')}`, JSON.stringify(plainState));
    const plainWords = await pageWords(plain);
    ok(!/[A-Za-z]/.test(plainWords), 'no English inside the Chinese words (HTTP)', plainWords);
    const found = await lib.axeSerious(plain);
    ok(found.length === 0, 'axe: nothing serious (HTTP)', JSON.stringify(found, null, 1));
    for (const vp of lib.VIEWPORTS) {
      await plain.setViewportSize({ width: vp.width, height: vp.height });
      await lib.sleep(200);
      await fullShot(plain, `phone-setup-http-${vp.name}`);
    }
    await plain.setViewportSize({ width: 390, height: 844 });
    await plain.click('#lang-toggle');
    const english = await plain.evaluate(() => ({
      lang: document.documentElement.lang,
      items: Array.from(document.querySelectorAll('#phone-missing li')).map((li) => li.textContent),
      title: document.querySelector('h1').textContent,
    }));
    ok(english.lang === 'en' && english.title === 'Set up a phone' && /^Notifications/.test(english.items[0] || ''),
      'the language button says it all in English', JSON.stringify(english));
    const englishWords = await pageWords(plain);
    ok(!/[\u4e00-\u9fff]/.test(englishWords), 'no Chinese inside the English words', englishWords);
    await lib.screenshot(plain, 'phone-setup-http-en-390x844');

    /* ---- the certificate download ---- */
    const download = await secure.evaluate(async (url) => {
      const r = await fetch(url);
      return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
    }, `${https}/ca.crt`);
    ok(download.status === 200 && download.type === 'application/x-x509-ca-cert' && download.size > 300,
      '/ca.crt answers the certificate to the page', JSON.stringify(download));
    const errors = pages.flatMap((p) => p.consoleErrors).filter((e) => !/Failed to load resource/.test(e));
    ok(errors.length === 0, 'no console errors', errors.join('\n'));
  } finally {
    await browser.close();
    await daemon.stop();
  }
}

main().then(() => process.exit(lib.doneTesting() ? 1 : 0), (e) => {
  ok(false, 'phone-setup.test.js ran to the end', e.stack);
  process.exit(lib.doneTesting() ? 1 : 0);
});
