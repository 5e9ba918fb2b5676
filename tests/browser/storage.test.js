/* The login page and the users tab while the database is locked by another
 * process (python3's sqlite3 holding BEGIN EXCLUSIVE), against a real
 * wardgated: a login is refused with the cause in the page's own words
 * (Chinese by default, English in English mode: no raw JSON, no English in
 * the Chinese, no server path), and so is an admin's password reset; once
 * the lock is gone the same login works. Screenshots at 1920x1080,
 * 1280x800 and 390x844; axe-core on the refused login. About 60 s. */
'use strict';

const { spawn } = require('child_process');
const path = require('path');
const lib = require('./lib');

const { ok, note } = lib;
const NURSE_PW = 'nurse password 1';
const ADMIN_PW = 'admin password 1';

/* Another process holding the database's write lock until release(). */
function lockDatabase(db) {
  const proc = spawn('/usr/bin/python3', ['-c', [
    'import sqlite3, sys',
    'con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)',
    "con.execute('BEGIN EXCLUSIVE')",
    "print('locked', flush=True)",
    'sys.stdin.readline()',
    "con.execute('COMMIT')"].join('\n'), db], { stdio: ['pipe', 'pipe', 'inherit'] });
  const locked = new Promise((resolve) => proc.stdout.once('data', resolve));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return { locked, release: async () => { proc.stdin.end('\n'); await exited; } };
}

const WORDS = {
  zh: { cause: '数据库被其他程序占用', saved: '什么都没有改动' },
  en: { cause: 'database locked by another program', saved: 'nothing was changed' },
};

async function refusedLogin(browser, base, lang, viewport) {
  const page = await lib.newPage(browser, lang, viewport);
  await page.goto(`${base}/login.html`);
  await page.fill('#username', 'nina');
  await page.fill('#password', NURSE_PW);
  await page.click('#login-submit');
  await page.waitForSelector('#login-error:not(.hidden)', { timeout: 30000 });
  const text = await page.textContent('#login-error');
  const size = `${viewport.width}x${viewport.height}`;
  ok(text.includes(WORDS[lang].cause) && !/[{}"]|\/\w/.test(text) && (lang !== 'zh' || !/[a-z]{3}/i.test(text)),
    `${lang} ${size}: the refused login says why in the page's words: ${text}`);
  await lib.screenshot(page, `storage-login-locked-${lang}-${size}`);
  return page;
}

async function main() {
  const dir = lib.scratchDir('storage');
  const port = await lib.freePort();
  const config = lib.writeConfig(dir, port);
  const db = path.join(dir, 'wardgate.db');
  lib.addUser(config, db, 'boss', 'admin', ADMIN_PW);
  lib.addUser(config, db, 'nina', 'nurse', NURSE_PW);
  const daemon = new lib.Daemon(config, db, port, path.join(dir, 'wardgated.log'));
  await daemon.start();
  const base = daemon.url;
  note(`wardgated on ${base}, scratch ${dir}`);
  const browser = await lib.launchBrowser();
  let lock = null;
  try {
    /* The admin is in the users tab before the lock. */
    const admin = await lib.newPage(browser, 'zh', { width: 1280, height: 800 });
    await lib.login(admin, base, 'boss', ADMIN_PW, '/manage.html#users');
    await admin.waitForSelector('button.user-password[data-user="nina"]', { timeout: 15000 });

    lock = lockDatabase(db);
    await lock.locked;
    for (const lang of ['zh', 'en']) {
      for (const viewport of lib.VIEWPORTS) {
        const page = await refusedLogin(browser, base, lang, viewport);
        if (lang === 'zh' && viewport.width === 1920) {
          const bad = await lib.axeSerious(page);
          ok(bad.length === 0, 'axe (WCAG 2.1 AA): nothing serious or critical on the refused login',
            bad.map((v) => `${v.id}: ${v.targets.join(', ')}`).join('\n'));
        }
        await page.context().close();
      }
    }

    /* A password reset in the users tab, refused with the cause. */
    await admin.click('button.user-password[data-user="nina"]');
    await admin.fill('#reset-password', 'a new nurse password');
    await admin.click('#password-save');
    await admin.waitForSelector('#password-errors:not([hidden])', { timeout: 30000 });
    const message = await admin.textContent('#password-errors');
    ok(message.includes(WORDS.zh.saved) && message.includes(WORDS.zh.cause) && !/\/\w|storage/.test(message),
      `the users tab says the reset was not saved, and why: ${message.trim()}`);
    for (const viewport of lib.VIEWPORTS) {
      await admin.setViewportSize({ width: viewport.width, height: viewport.height });
      await lib.screenshot(admin, `storage-users-locked-zh-${viewport.name}`);
    }

    await lock.release();
    lock = null;
    const page = await lib.newPage(browser, 'zh', { width: 1280, height: 800 });
    await lib.login(page, base, 'nina', NURSE_PW);
    ok(!page.url().endsWith('/login.html'), 'once the lock is gone the same login works (nothing changed meanwhile)');
  } catch (e) {
    ok(false, `the storage pages ran to the end: ${e.message}`, e.stack);
  } finally {
    if (lock) await lock.release();
    await browser.close();
    await daemon.stop();
  }
  process.exitCode = lib.doneTesting() ? 1 : 0;
}

main();
