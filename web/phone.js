/* The phone setup page (phone.html, no login): a carer's phone is set up
 * once, by scanning two QR codes the gateway draws: the home's certificate
 * (its CA, from /ca.crt), then the carer app over a secure connection. The
 * page also says, in words, what a phone loses when this page (or the app)
 * is opened over a plain connection: browsers allow notifications, keeping
 * the screen on and working offline only in a secure context. */
'use strict';

(() => {
  WG.addStrings({
    zh: {
      'phone.title': '手机设置',
      'phone.intro': '护理员的手机按下面两步设置一次：先安装本院证书，再打开护理员应用。',
      'phone.secure.ok': '此页面通过安全连接打开：通知提醒、保持亮屏和离线使用都可以用。',
      'phone.secure.missing': '此页面没有通过安全连接打开，以下功能在这里不可用：',
      'phone.secure.unsupported': '此页面通过安全连接打开，但这个浏览器不支持以下功能：',
      'phone.secure.fix': '按下面两步设置，再用第二步的二维码打开护理员应用，这些功能就可以用了。',
      'phone.missing.notify': '通知提醒：呼叫来时手机不会响铃或弹出提醒',
      'phone.missing.wake': '保持亮屏：屏幕会按手机设置自动熄灭',
      'phone.missing.offline': '离线使用：无线网络断开时无法打开',
      'phone.step1.title': '第一步：安装本院证书',
      'phone.step1.qr': '下载本院证书的二维码',
      'phone.step1.scan': '用手机相机扫描二维码，下载本院证书。',
      'phone.step1.here': '在本机下载证书',
      'phone.step1.android': '安卓手机：下载后在“设置”里搜索“证书”，进入“安装证书”，选择刚下载的证书文件（各品牌菜单名称略有不同）。',
      'phone.step1.ios': '苹果手机：用自带浏览器下载后，打开“设置 → 已下载描述文件”点“安装”；再到“设置 → 通用 → 关于本机 → 证书信任设置”，打开本院证书的开关。',
      'phone.step1.none': '本院还没有配置证书，请联系系统管理员。',
      'phone.step2.title': '第二步：打开护理员应用',
      'phone.step2.qr': '打开护理员应用的二维码',
      'phone.step2.scan': '装好证书后扫描二维码，在浏览器中打开护理员应用并登录。',
      'phone.step2.here': '在本机打开护理员应用',
      'phone.step2.home': '打开后在浏览器菜单中选择“添加到主屏幕”，以后从主屏幕的图标进入。',
      'phone.step2.plain': '网关还没有开启安全连接：护理员应用的通知提醒、保持亮屏和离线使用都不可用，请联系系统管理员。',
      'phone.error': '无法读取设置信息：请确认手机连着院内无线网络，然后刷新本页。',
      'phone.address': '地址：{url}',
    },
    en: {
      'phone.title': 'Set up a phone',
      'phone.intro': 'Set up each carer\'s phone once, in two steps: install the home\'s certificate, then open the carer app.',
      'phone.secure.ok': 'This page is open over a secure connection: notifications, keeping the screen on and working offline all work.',
      'phone.secure.missing': 'This page is not open over a secure connection; here these do not work:',
      'phone.secure.unsupported': 'This page is open over a secure connection, but this browser does not support:',
      'phone.secure.fix': 'Follow the two steps below, then open the carer app with the second code, and they will work.',
      'phone.missing.notify': 'Notifications: the phone does not ring or show an alert when a call comes',
      'phone.missing.wake': 'Keeping the screen on: the screen turns off as the phone is set to',
      'phone.missing.offline': 'Working offline: the app does not open while the Wi-Fi is down',
      'phone.step1.title': 'Step 1: install the home\'s certificate',
      'phone.step1.qr': 'QR code to download the home\'s certificate',
      'phone.step1.scan': 'Scan the code with the phone\'s camera to download the home\'s certificate.',
      'phone.step1.here': 'Download the certificate on this phone',
      'phone.step1.android': 'Android: after the download, search Settings for "certificate", open "Install a certificate", choose "CA certificate" and the downloaded file (menu names vary by brand).',
      'phone.step1.ios': 'iPhone: download it in Safari, open Settings → Profile Downloaded and tap Install; then in Settings → General → About → Certificate Trust Settings, turn on the home\'s certificate.',
      'phone.step1.none': 'This home has no certificate set up yet: ask the system administrator.',
      'phone.step2.title': 'Step 2: open the carer app',
      'phone.step2.qr': 'QR code to open the carer app',
      'phone.step2.scan': 'With the certificate installed, scan the code to open the carer app in the browser and log in.',
      'phone.step2.here': 'Open the carer app on this phone',
      'phone.step2.home': 'Then choose "Add to Home screen" in the browser\'s menu and start it from its icon.',
      'phone.step2.plain': 'The gateway has no secure connection set up: the carer app\'s notifications, keeping the screen on and working offline will not work. Ask the system administrator.',
      'phone.error': 'The setup details cannot be read: check the phone is on the home\'s Wi-Fi, then reload this page.',
      'phone.address': 'Address: {url}',
    },
  });
  const $ = (id) => document.getElementById(id);
  let info = null;
  let failed = false;

  /* What this page cannot use here: all three without a secure context; in
   * one, what the browser itself lacks. */
  function missingFeatures() {
    if (!window.isSecureContext) return ['notify', 'wake', 'offline'];
    const missing = [];
    if (!('Notification' in window)) missing.push('notify');
    if (!('wakeLock' in navigator)) missing.push('wake');
    if (!('serviceWorker' in navigator)) missing.push('offline');
    return missing;
  }

  function showSecure() {
    const missing = missingFeatures();
    const box = $('phone-secure');
    box.className = `phone-secure ${missing.length ? 'missing' : 'ok'}`;
    box.dataset.missing = missing.join(' ');
    $('phone-secure-text').textContent = WG.t(!missing.length ? 'phone.secure.ok'
      : window.isSecureContext ? 'phone.secure.unsupported' : 'phone.secure.missing');
    const list = $('phone-missing');
    list.replaceChildren(...missing.map((m) => {
      const li = document.createElement('li');
      li.textContent = WG.t(`phone.missing.${m}`);
      return li;
    }));
    $('phone-secure-fix').classList.toggle('hidden', window.isSecureContext);
  }

  function showSteps() {
    $('qr-ca').alt = WG.t('phone.step1.qr');
    $('qr-app').alt = WG.t('phone.step2.qr');
    if (!info) return;
    $('step-ca-none').classList.toggle('hidden', Boolean(info.ca_url));
    $('step-ca-body').classList.toggle('hidden', !info.ca_url);
    if (info.ca_url) {
      $('qr-ca').src = '/api/v1/phone/qr/ca.svg';
      $('link-ca').href = info.ca_url;
      $('addr-ca').textContent = WG.t('phone.address', { url: info.ca_url });
    }
    $('qr-app').src = '/api/v1/phone/qr/app.svg';
    $('link-app').href = info.app_url;
    $('addr-app').textContent = WG.t('phone.address', { url: info.app_url });
    $('step-app-plain').classList.toggle('hidden', Boolean(info.app_secure));
  }

  function render() {
    document.documentElement.lang = WG.lang() === 'zh' ? 'zh-CN' : 'en';
    WG.translatePage();
    showSecure();
    showSteps();
    $('phone-error').textContent = failed ? WG.t('phone.error') : '';
    $('phone-error').classList.toggle('hidden', !failed);
  }

  async function start() {
    render();
    $('lang-toggle').addEventListener('click', () => {
      WG.setLang(WG.lang() === 'zh' ? 'en' : 'zh');
      render();
    });
    let res;
    try {
      res = await WG.api('GET', '/api/v1/phone');
    } catch (e) {
      res = { status: 0 };
    }
    failed = res.status !== 200 || !res.data || typeof res.data !== 'object';
    info = failed ? null : res.data;
    render();
  }

  start();
})();
