/* The login page: POST /api/v1/login, or /api/v1/setup with the one-time
 * token on the first start (offered only while GET /api/v1/setup says it is
 * pending); then on to ?next= (same-origin paths only).
 * It uses fetch itself rather than WG.api: WG.api sends a 401 to this very
 * page, and the login needs the Retry-After header of a 429. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'login.setup_link': '首次启动？用一次性令牌创建管理员', 'login.back': '返回登录',
      'login.setup_title': '首次设置', 'login.setup_submit': '创建管理员并登录',
      'login.setup_refused': '无法创建：令牌错误，或已有用户（请直接登录）',
      'login.missing': '请输入用户名和密码', 'login.missing_token': '请输入一次性令牌',
      'login.bad_name': '用户名：1–32 个字符，仅限 a-z 0-9 . _ -',
      'login.short_password': '密码至少 10 个字符', 'login.failed': '登录失败：{e}',
      'login.storage': '现在无法登录：{reason}，登录记录存不进去。请稍后再试；呼叫和报警照常工作。',
    },
    en: {
      'login.setup_link': 'First start? Create the admin with the one-time token', 'login.back': 'Back to log in',
      'login.setup_title': 'First start', 'login.setup_submit': 'Create the admin and log in',
      'login.setup_refused': 'Not created: wrong token, or a user already exists (just log in)',
      'login.missing': 'Enter the user name and the password', 'login.missing_token': 'Enter the one-time token',
      'login.bad_name': 'User name: 1–32 characters of a-z 0-9 . _ -',
      'login.short_password': 'The password needs at least 10 characters', 'login.failed': 'Login failed: {e}',
      'login.storage': 'Cannot log in now: {reason}, so the login cannot be recorded. Try again later; calls and alarms go on.',
    },
  });

  const $ = (id) => document.getElementById(id);
  const form = $('login-form');
  const submit = $('login-submit');
  const errorBox = $('login-error');
  let setupMode = false;
  let throttledUntil = 0;
  let throttleTimer = null;
  let lastError = null; /* {key, params} or {text}: re-rendered on a language change */

  /* Where to go after logging in: a same-origin path from ?next=, else "/". */
  function nextTarget() {
    const next = new URLSearchParams(location.search).get('next');
    if (!next || next[0] !== '/' || next.startsWith('//') || next.startsWith('/\\')) return '/';
    try {
      const url = new URL(next, location.origin);
      if (url.origin !== location.origin || url.pathname.endsWith('/login.html')) return '/';
      return url.pathname + url.search + url.hash;
    } catch (e) {
      return '/';
    }
  }

  function showError(error) {
    lastError = error;
    if (!error) {
      errorBox.classList.add('hidden');
      errorBox.textContent = '';
      return;
    }
    /* A storage cause is put into words at each rendering (the language may change). */
    const params = error.storage ? { reason: WG.storageText(error.storage) } : error.params;
    errorBox.textContent = error.key ? WG.t(error.key, params) : error.text;
    errorBox.classList.remove('hidden');
  }

  function render() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    $('token-row').classList.toggle('hidden', !setupMode);
    $('setup-intro').classList.toggle('hidden', !setupMode);
    $('login-heading').textContent = WG.t(setupMode ? 'login.setup_title' : 'login.title');
    $('setup-toggle').textContent = WG.t(setupMode ? 'login.back' : 'login.setup_link');
    $('setup-switch').classList.toggle('hidden', !setupPending);
    $('password').autocomplete = setupMode ? 'new-password' : 'current-password';
    if (!throttleTimer) submit.textContent = WG.t(setupMode ? 'login.setup_submit' : 'login.submit');
    document.title = `${WG.t(setupMode ? 'login.setup_title' : 'login.title')} · wardgate`;
    if (lastError) showError(lastError);
  }

  /* 429: the button stays disabled, counting down, until Retry-After has passed. */
  function throttle(seconds) {
    throttledUntil = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((throttledUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(throttleTimer);
        throttleTimer = null;
        submit.disabled = false;
        showError(null);
        render();
        return;
      }
      showError({ key: 'login.throttled', params: { s: left } });
      submit.textContent = `${WG.t(setupMode ? 'login.setup_submit' : 'login.submit')} (${left})`;
    };
    submit.disabled = true;
    clearInterval(throttleTimer);
    throttleTimer = setInterval(tick, 1000);
    tick();
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    let data = null;
    if ((response.headers.get('Content-Type') || '').startsWith('application/json')) {
      data = await response.json().catch(() => null);
    }
    return { status: response.status, data, retryAfter: response.headers.get('Retry-After') };
  }

  async function onSubmit(event) {
    event.preventDefault();
    if (Date.now() < throttledUntil) return;
    const username = $('username').value.trim();
    const password = $('password').value;
    const token = $('token').value.trim();
    if (!username || !password) { showError({ key: 'login.missing' }); return; }
    if (setupMode) {
      if (!token) { showError({ key: 'login.missing_token' }); return; }
      if (!/^[a-z0-9._-]{1,32}$/.test(username)) { showError({ key: 'login.bad_name' }); return; }
      if (password.length < 10) { showError({ key: 'login.short_password' }); return; }
    }
    submit.disabled = true;
    showError(null);
    let result;
    try {
      result = setupMode
        ? await post('/api/v1/setup', { token, username, password })
        : await post('/api/v1/login', { username, password });
    } catch (e) {
      submit.disabled = false;
      showError({ key: 'error.network' });
      return;
    }
    const { status, data, retryAfter } = result;
    if (status === 200 || status === 201) {
      location.replace(nextTarget());
      return;
    }
    submit.disabled = false;
    $('password').value = '';
    if (status === 429) {
      const seconds = parseInt(retryAfter, 10);
      throttle(Number.isFinite(seconds) && seconds > 0 ? seconds : 30);
    } else if (status === 401) {
      showError({ key: 'login.bad' });
      $('password').focus();
    } else if (setupMode && status === 403) {
      showError({ key: 'login.setup_refused' });
    } else if (status === 503 && data && data.code === 'storage') {
      showError({ key: 'login.storage', storage: (data.args && data.args.reason) || 'unknown' });
    } else {
      showError({ key: 'login.failed', params: { e: (data && data.error) || `HTTP ${status}` } });
    }
  }

  /* The first-admin form is offered only while the gateway says setup is
   * pending (no user yet, a live one-time token), and then first, since
   * nobody can log in yet; after setup, ?setup shows the login form. Until
   * the answer comes the link stays hidden. */
  let setupPending = false;
  async function loadSetupState() {
    try {
      const response = await fetch('/api/v1/setup', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      const data = response.ok ? await response.json() : null;
      setupPending = !!(data && data.setup_pending === true);
    } catch (e) {
      setupPending = false;
    }
    const typed = $('username').value || $('password').value;
    if (setupPending && !typed) {
      setupMode = true;
      render();
      $('token').focus();
      return;
    }
    render();
  }

  form.addEventListener('submit', onSubmit);
  $('setup-toggle').addEventListener('click', (event) => {
    event.preventDefault();
    setupMode = !setupMode;
    showError(null);
    render();
    (setupMode ? $('token') : $('username')).focus();
  });
  $('lang-toggle').addEventListener('click', () => WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh'));
  document.addEventListener('wg-lang', render);
  render();
  $('username').focus();
  loadSetupState();
})();
