'use strict';
/*
 * What the web client's browser tests (app_*.test.js) share: a headless Chromium of their own (a persistent profile
 * under HL_TMP/chromium-profile-<name>, which run.sh's cleanup finds) that may not reach any other origin, the problems
 * the page reports (script errors, console errors, CSP violations), and pairing that page through
 * `hermeslink pair --json` and /app#session=…&code=….
 */
const assert = require('node:assert/strict');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { env, run } = require('./tap.js');

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, isMobile: false, hasTouch: false };

/* Starts Chromium with the profile chromium-profile-<name> at a phone's (default) or desktop's size (device: PHONE or
 * DESKTOP). Resolves {browser, page, problems, external}: requests to another origin than base (default: run.sh's
 * daemon) are aborted and listed in external; page errors, console errors and CSP reports go to problems. Close with
 * browser.close(). */
async function launch(name, device = PHONE, base = env.BASE) {
    const browser = await chromium.launchPersistentContext(path.join(env.TMP, `chromium-profile-${name}`), {
        executablePath: env.CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
        ...device,
        timeout: 20000,
    });
    browser.setDefaultTimeout(15000);
    const problems = [];
    const external = [];
    await browser.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith(`${base}/`)) return route.continue();
        external.push(url);
        return route.abort('internetdisconnected');
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => {
        if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    return { browser, page, problems, external };
}

/* A new pairing session from the CLI: {session_id, connect_token, …} of `hermeslink pair --json`. */
async function newPairing() {
    process.kill(env.DAEMON_PID, 0); /* `pair` would start a daemon of its own if ours were gone */
    const created = JSON.parse((await run(env.BIN, ['pair', '--json'], 20000)).stdout);
    assert.ok(created.session_id && created.connect_token, JSON.stringify(created));
    return created;
}

/* Pairs page through /app#session=…&code=… and waits until the client shows the conversation list signed in.
 * Resolves the tokens the client stored in IndexedDB ({access_token, refresh_token, device_id, …}). */
async function pairPage(page) {
    const created = await newPairing();
    const url = `${env.BASE}/app#session=${encodeURIComponent(created.session_id)}&code=${encodeURIComponent(created.connect_token)}`;
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-signed-in="true"]');
    await page.waitForSelector('#list-view:not([hidden])');
    return storedTokens(page);
}

/* The tokens the page's client keeps in IndexedDB (undefined when none). */
function storedTokens(page) {
    return page.evaluate(
        () =>
            new Promise((resolve, reject) => {
                const req = indexedDB.open('hermeslink');
                req.onsuccess = () => {
                    const get = req.result.transaction('kv').objectStore('kv').get('tokens');
                    get.onsuccess = () => resolve(get.result);
                    get.onerror = () => reject(get.error);
                };
                req.onerror = () => reject(req.error);
            })
    );
}

/* fetch() of an API path with the bearer token, resolving {status, body} (body parsed as JSON when it is JSON). */
async function api(token, method, p, body) {
    const res = await fetch(`${env.BASE}${p}`, {
        method,
        headers: Object.assign({ Authorization: `Bearer ${token}` }, body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed = text;
    try {
        parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed };
}

/* Records in window.__seen every "<status>:<text length>" the assistant messages of the page show from now on, so a
 * test can tell an answer grew while it streamed (partial text before "completed"). */
function watchAnswers(page) {
    return page.evaluate(() => {
        window.__seen = [];
        new MutationObserver(() => {
            for (const li of document.querySelectorAll('#messages li.msg.assistant'))
                window.__seen.push(`${li.dataset.status}:${li.textContent.length}`);
        }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true, attributes: true });
    });
}

module.exports = { PHONE, DESKTOP, launch, newPairing, pairPage, storedTokens, api, watchAnswers };
