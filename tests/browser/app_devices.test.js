'use strict';
/*
 * The web client's devices and profile views, PWA shell, keyboard shortcuts, dark mode and the signed-out state on
 * revoke, in headless Chromium against the real daemon (run.sh starts it, HERMES_HOME = HL_TMP/hermes). Page A is paired
 * at a phone's size and a second device through the API only: A's devices view lists both, marks this device, shows the
 * daemon's errors for a bad label, renames the other and revokes it after the in-page confirm (checked through the API:
 * the label, then 401 for its token). The profile view adds and removes a memory entry (checked in MEMORY.md), shows
 * 503 memory_busy while the file's lock is held (on page B, meanwhile) and disables and enables a skill written under
 * HERMES_HOME/skills. The manifest and its icons are served as described (PNG sizes read from the header); the service
 * worker controls /app, serves the shell (offline too) and never /api/, whose responses never reach its cache. `?` `n`
 * Escape Ctrl+Enter work, letters typed in a field do not trigger them; the dark scheme gives a dark page. Browser B,
 * paired first and then idle on the list, with a second tab in a conversation, is revoked from the CLI
 * (`hermeslink devices revoke <id>`): both tabs show the signed-out state, the IndexedDB tokens are cleared, no request follows. Last, A
 * signs itself out from its devices view. Screenshots (phone, desktop, dark) in HL_TMP. Exits 0 only when every check
 * passed.
 */
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { env, run, tap } = require('./tap.js');
const { DESKTOP, launch, newPairing, pairPage, storedTokens, api } = require('./web_client.js');

const { BASE, TMP } = env;
const { check, main } = tap('browser (app devices)');
const HERMES = path.join(TMP, 'hermes');

async function claimThroughApi(label) {
    const created = await newPairing();
    const res = await fetch(`${BASE}/api/v1/pairing/claim`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session_id: created.session_id, claim_token: created.connect_token, device_label: label, device_platform: 'ios' }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    return { id: body.device.id, access: body.access_token.token };
}

/* The width and height of a PNG from its IHDR chunk. */
function pngSize(buf) {
    assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'PNG signature');
    assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
    return [buf.readUInt32BE(16), buf.readUInt32BE(20)];
}

/* On page (signed in, idle): USER.md's lock held as Hermes would (flock(1)) while an entry is added: the daemon's
 * 503 memory_busy shows after its 3 s wait and nothing is written; back to the list. */
async function memoryBusy(page) {
    const dir = path.join(HERMES, 'memories');
    fs.mkdirSync(dir, { recursive: true });
    /* the lock is held until its stdin closes */
    const holder = spawn('flock', ['-x', path.join(dir, 'USER.md.lock'), '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    try {
        await new Promise((resolve, reject) => {
            holder.stdout.once('data', resolve);
            exited.then((code) => reject(new Error(`flock exited ${code}`)));
        });
        await page.click('#tab-profile');
        await page.waitForSelector('#profile-view:not([hidden])');
        await page.locator('#memory-stores .store[data-target="user"]').waitFor();
        await page.selectOption('#memory-target', 'user');
        await page.fill('#memory-text', 'Written while locked');
        await page.click('#memory-add button[type="submit"]');
        await page.locator('#memory-error', { hasText: 'memory_busy' }).waitFor({ timeout: 12000 });
        assert.equal(await page.inputValue('#memory-text'), 'Written while locked', 'the text is kept to try again');
        const file = path.join(dir, 'USER.md');
        assert.ok(!fs.existsSync(file) || !fs.readFileSync(file, 'utf8').includes('Written while locked'));
    } finally {
        holder.stdin.end();
        await exited;
    }
    await page.click('#tab-list');
    await page.waitForSelector('#list-view:not([hidden])');
}

const shot = (page, name) => page.screenshot({ path: path.join(TMP, `${name}.png`) });

async function body() {
    /* B is launched and paired first, then left idle until its device is revoked at the end */
    const [a, b] = await Promise.all([launch('devices'), launch('devices-b', DESKTOP)]);
    const { page, problems, external } = a;
    try {
        const tokensB = await pairPage(b.page);
        const busyOnB = memoryBusy(b.page); /* meanwhile, on A: */
        busyOnB.catch(() => {}); /* reported by its check below */
        const dialogs = [];
        page.on('dialog', (d) => {
            dialogs.push(d.message());
            d.dismiss().catch(() => {});
        });
        const mine = await pairPage(page);
        const other = await claimThroughApi('Old phone');
        const otherItem = page.locator(`#devices li.device[data-id="${other.id}"]`);

        await check('the devices view lists both devices and marks this one', async () => {
            await page.click('#tab-devices');
            await page.waitForSelector('#devices-view:not([hidden])');
            await otherItem.waitFor();
            const current = page.locator('#devices li.device[data-current="true"]');
            assert.equal(await current.count(), 1);
            assert.equal(await current.getAttribute('data-id'), mine.device_id);
            assert.match(await current.textContent(), /this device/);
            assert.equal(await current.locator('.revoke-btn').count(), 0, 'this device cannot be revoked from here');
            assert.match(await otherItem.textContent(), /Old phone/);
            assert.match(await otherItem.textContent(), /ios/);
        });

        await check('rename: the daemon\'s errors are shown, then the new label is stored', async () => {
            await otherItem.locator('.rename-btn').click();
            const input = otherItem.locator('form.rename input');
            await input.fill('');
            await otherItem.locator('form.rename button[type="submit"]').click();
            await otherItem.locator('.err', { hasText: 'device_label_required' }).waitFor();
            await input.fill('x'.repeat(129));
            await otherItem.locator('form.rename button[type="submit"]').click();
            await otherItem.locator('.err', { hasText: 'device_label_invalid' }).waitFor();
            await input.fill('Kitchen <b>tablet</b>');
            await otherItem.locator('form.rename button[type="submit"]').click();
            await otherItem.locator('.label', { hasText: 'Kitchen <b>tablet</b>' }).waitFor();
            assert.equal(await page.locator('#devices b').count(), 0, 'a label is text, never markup');
            const listed = await api(other.access, 'GET', '/api/v1/devices');
            assert.equal(listed.status, 200);
            assert.equal(listed.body.devices.find((d) => d.id === other.id).label, 'Kitchen <b>tablet</b>');
            await shot(page, 'app-devices-phone');
        });

        await check('revoke asks in the page (No keeps it), then Yes revokes: its token gets 401', async () => {
            await otherItem.locator('.revoke-btn').click();
            await otherItem.locator('.confirm', { hasText: 'Revoke?' }).waitFor();
            await otherItem.locator('.confirm button', { hasText: 'No' }).click();
            await otherItem.locator('.revoke-btn').waitFor();
            assert.equal((await api(other.access, 'GET', '/api/v1/auth/me')).status, 200);
            await otherItem.locator('.revoke-btn').click();
            await otherItem.locator('.confirm button', { hasText: 'Yes' }).click();
            await page.locator(`#devices li.device[data-id="${other.id}"][data-status="revoked"]`).waitFor();
            assert.equal((await api(other.access, 'GET', '/api/v1/auth/me')).status, 401);
            assert.deepEqual(dialogs, [], 'no window.confirm');
        });

        await check('profile: a memory entry is added (MEMORY.md) and removed; errors are shown', async () => {
            fs.mkdirSync(path.join(HERMES, 'skills', 'demo-skill'), { recursive: true });
            fs.writeFileSync(path.join(HERMES, 'skills', 'demo-skill', 'SKILL.md'), '---\nname: demo-skill\ndescription: A skill the test wrote.\n---\n# Demo\n');
            await page.click('#tab-profile');
            await page.waitForSelector('#profile-view:not([hidden])');
            assert.equal(await page.inputValue('#profile-pick'), 'default');
            await page.locator('#memory-stores .store[data-target="memory"]').waitFor();
            await page.click('#memory-add button[type="submit"]');
            await page.locator('#memory-error', { hasText: /memory_content_(empty|required)/ }).waitFor();
            const entry = 'Prefers <i>green</i> tea';
            await page.selectOption('#memory-target', 'memory');
            await page.fill('#memory-text', entry);
            await page.click('#memory-add button[type="submit"]');
            const li = page.locator('#memory-stores .store[data-target="memory"] li.entry', { hasText: entry });
            await li.waitFor();
            assert.equal(await page.locator('#memory-error').textContent(), '');
            assert.equal(await page.locator('#memory-stores i').count(), 0);
            assert.ok(fs.readFileSync(path.join(HERMES, 'memories', 'MEMORY.md'), 'utf8').includes(entry), 'entry in MEMORY.md');
            const view = await api(mine.access_token, 'GET', '/api/v1/profiles/default/memory');
            assert.ok(view.body.stores.find((s) => s.target === 'memory').entries.some((e) => e.content === entry));
            await shot(page, 'app-profile-phone');
            await li.locator('button').click();
            await li.waitFor({ state: 'detached' });
            assert.ok(!fs.readFileSync(path.join(HERMES, 'memories', 'MEMORY.md'), 'utf8').includes(entry), 'entry removed');
        });

        await check('profile (page B): 503 memory_busy is shown while Hermes holds the memory file\'s lock', () => busyOnB);

        await check('profile: a skill is disabled and enabled again', async () => {
            const box = page.locator('#skills li.skill[data-name="demo-skill"] input[type="checkbox"]');
            await box.waitFor();
            assert.equal(await box.isChecked(), true);
            await box.uncheck();
            await page.waitForFunction(() => {
                const b = document.querySelector('#skills li.skill[data-name="demo-skill"] input');
                return b && !b.checked && !b.disabled;
            });
            const skills = await api(mine.access_token, 'GET', '/api/v1/profiles/default/skills');
            assert.equal(skills.body.skills.find((s) => s.name === 'demo-skill').enabled, false);
            await page.locator('#skills li.skill[data-name="demo-skill"] input').check();
            await page.waitForFunction(() => {
                const b = document.querySelector('#skills li.skill[data-name="demo-skill"] input');
                return b && b.checked && !b.disabled;
            });
            const again = await api(mine.access_token, 'GET', '/api/v1/profiles/default/skills');
            assert.equal(again.body.skills.find((s) => s.name === 'demo-skill').enabled, true);
            assert.equal(await page.locator('#skills-error').textContent(), '');
        });

        await check('desktop size: devices and profile views', async () => {
            await page.setViewportSize(DESKTOP.viewport);
            await shot(page, 'app-profile-desktop');
            await page.click('#tab-devices');
            await otherItem.waitFor();
            await shot(page, 'app-devices-desktop');
        });

        await check('PWA: the manifest and its icons (PNG of the stated sizes)', async () => {
            const href = await page.getAttribute('link[rel="manifest"]', 'href');
            const res = await fetch(new URL(href, BASE));
            assert.equal(res.status, 200);
            assert.match(res.headers.get('content-type'), /^application\/manifest\+json/);
            const m = JSON.parse(await res.text());
            assert.equal(m.name, 'HermesLink');
            assert.equal(m.start_url, '/app');
            assert.equal(m.scope, '/app');
            assert.equal(m.display, 'standalone');
            assert.ok(m.icons.some((i) => /maskable/.test(i.purpose || '')), 'a maskable icon');
            const sizes = new Set();
            for (const icon of m.icons) {
                const r = await fetch(new URL(icon.src, BASE));
                assert.equal(r.status, 200, icon.src);
                assert.equal(r.headers.get('content-type'), 'image/png');
                const buf = Buffer.from(await r.arrayBuffer());
                assert.ok(buf.length < 16 * 1024, `${icon.src}: ${buf.length} bytes`);
                const [w, h] = pngSize(buf);
                assert.equal(`${w}x${h}`, icon.sizes, icon.src);
                sizes.add(icon.sizes);
            }
            assert.ok(sizes.has('192x192') && sizes.has('512x512'), [...sizes].join());
            const touch = await fetch(new URL(await page.getAttribute('link[rel="apple-touch-icon"]', 'href'), BASE));
            assert.equal(touch.status, 200);
            assert.equal(await page.locator('meta[name="theme-color"]').count(), 2);
        });

        await check('the service worker controls /app, serves the shell (offline too) and never /api/', async () => {
            const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
            assert.equal(scope, `${BASE}/app`);
            const seen = [];
            const onResponse = (r) => seen.push({ path: new URL(r.url()).pathname, sw: r.fromServiceWorker() });
            page.on('response', onResponse);
            const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/conversations');
            await page.reload({ waitUntil: 'load' });
            await listed;
            assert.equal(await page.evaluate(() => !!navigator.serviceWorker.controller), true, 'the page is controlled');
            page.off('response', onResponse);
            const shellViaSw = seen.filter((s) => s.path.startsWith('/app/') && s.sw);
            assert.ok(shellViaSw.some((s) => s.path === '/app/app.js'), `responses: ${JSON.stringify(seen)}`);
            const apiSeen = seen.filter((s) => s.path.startsWith('/api/'));
            assert.ok(apiSeen.length > 0 && apiSeen.every((s) => !s.sw), `api responses: ${JSON.stringify(apiSeen)}`);
            const cached = await page.evaluate(async () => {
                const out = {};
                for (const k of await caches.keys()) out[k] = (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname);
                return out;
            });
            const urls = Object.values(cached).flat();
            assert.ok(Object.keys(cached).length === 1 && /^hermeslink-shell-v\d+$/.test(Object.keys(cached)[0]), JSON.stringify(Object.keys(cached)));
            assert.ok(urls.includes('/app') && urls.includes('/app/app.js') && urls.includes('/app/devices.js'), urls.join());
            assert.deepEqual(urls.filter((u) => u !== '/app' && !u.startsWith('/app/')), [], 'only the shell is cached');
            /* offline: the shell comes from the cache */
            await a.browser.setOffline(true);
            try {
                await page.reload({ waitUntil: 'load' });
                await page.waitForSelector('body[data-signed-in="true"]');
                assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('#tabs')).display), 'flex', 'more.css from the cache');
            } finally {
                await a.browser.setOffline(false);
            }
            await page.reload({ waitUntil: 'load' });
            await page.waitForSelector('#list-view:not([hidden])');
        });

        await check('keyboard: ? shows the help, n opens a new conversation, Ctrl+Enter sends, Escape goes back, / searches', async () => {
            const listIds = async () =>
                (await api((await storedTokens(page)).access_token, 'GET', '/api/v1/conversations?limit=100')).body.conversations.map((c) => c.id);
            const before = new Set(await listIds());
            await page.keyboard.press('?');
            await page.waitForSelector('#keys-help:not([hidden])');
            assert.match(await page.textContent('#keys-help'), /New conversation/);
            await shot(page, 'app-keys-help-desktop');
            await page.keyboard.press('Escape');
            await page.waitForSelector('#keys-help', { state: 'hidden' });
            await page.keyboard.press('n');
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.fill('#input', 'Sent with Ctrl+Enter');
            await page.locator('#conv-title').click();
            await page.keyboard.press('Control+Enter');
            await page.locator('#messages li.msg.user', { hasText: 'Sent with Ctrl+Enter' }).waitFor();
            await page.locator('#messages li.msg.assistant[data-status="completed"]').waitFor({ timeout: 20000 });
            await page.locator('#input').focus();
            await page.keyboard.type('n?');
            assert.equal(await page.inputValue('#input'), 'n?', 'letters typed in the composer stay there');
            assert.equal(await page.evaluate(() => document.getElementById('keys-help').hidden), true);
            await page.keyboard.press('Escape');
            await page.waitForSelector('#list-view:not([hidden])');
            await page.keyboard.press('/');
            assert.equal(await page.evaluate(() => document.activeElement.id), 'search', '/ focuses the search box');
            assert.equal(await page.inputValue('#search'), '');
            await page.evaluate(() => document.activeElement.blur());
            /* the daemon is shared with the other test files: the conversation made here goes */
            const made = (await listIds()).filter((id) => !before.has(id));
            assert.equal(made.length, 1, `conversations made: ${made}`);
            const tokens = await storedTokens(page);
            assert.equal((await api(tokens.access_token, 'DELETE', `/api/v1/conversations/${made[0]}`)).status, 200);
        });

        await check('dark mode: a dark page, the new views too', async () => {
            await page.emulateMedia({ colorScheme: 'dark' });
            await page.click('#tab-devices');
            await otherItem.waitFor();
            const dark = (c) => {
                const [r, g, b] = c.match(/\d+/g).map(Number);
                return 0.2126 * r + 0.7152 * g + 0.0722 * b < 60;
            };
            const colours = await page.evaluate(() => ({
                body: getComputedStyle(document.body).backgroundColor,
                card: getComputedStyle(document.querySelector('#devices li.device')).backgroundColor,
                text: getComputedStyle(document.querySelector('#devices .label')).color,
            }));
            assert.ok(dark(colours.body) && dark(colours.card) && !dark(colours.text), JSON.stringify(colours));
            await shot(page, 'app-devices-dark-desktop');
            await page.emulateMedia({ colorScheme: 'light' });
        });

        await check('browser B (one tab idle on the list, one in a conversation) is signed out within seconds when its device is revoked; its tokens are cleared', async () => {
            const tokensA = await storedTokens(page);
            const listIds = async () => (await api(tokensA.access_token, 'GET', '/api/v1/conversations?limit=100')).body.conversations.map((c) => c.id);
            const before = new Set(await listIds());
            const tab2 = await b.browser.newPage();
            await tab2.goto(`${BASE}/app`, { waitUntil: 'load' });
            await tab2.click('#new-conv');
            await tab2.waitForSelector('#conv-view:not([hidden])');
            await tab2.waitForFunction(() => document.getElementById('status').textContent === 'Signed in'); /* its stream is live */
            const requests = [];
            b.browser.on('request', (r) => requests.push({ url: r.url(), at: Date.now() }));
            /* revoked from the computer: `hermeslink devices` lists it, `devices revoke <id>` signs it out */
            const listed = await run(env.BIN, ['devices'], 20000);
            assert.ok(listed.stdout.includes(tokensB.device_id), listed.stdout);
            const revoked = await run(env.BIN, ['devices', 'revoke', tokensB.device_id], 20000);
            assert.match(revoked.stdout, new RegExp(`^Device ${tokensB.device_id} \\(.*\\) revoked$`, 'm'));
            for (const p of [b.page, tab2]) await p.waitForSelector('#signed-out:not([hidden])', { timeout: 10000 });
            const out = Date.now();
            for (const p of [b.page, tab2]) {
                assert.match(await p.textContent('#signed-out-why'), /revoked/);
                assert.match(await p.textContent('#signed-out'), /hermeslink pair/);
                assert.equal(await p.evaluate(() => document.body.dataset.signedIn), undefined);
                assert.equal(await p.isVisible('#tabs'), false, 'no tabs when signed out');
            }
            assert.equal(await storedTokens(b.page), undefined, 'tokens cleared from IndexedDB');
            await shot(b.page, 'app-signed-out-desktop');
            await b.page.waitForTimeout(1200);
            const after = requests.filter((r) => r.at > out + 100 && new URL(r.url).pathname.startsWith('/api/'));
            assert.deepEqual(after, [], 'the streams stopped');
            await b.page.reload({ waitUntil: 'load' });
            await b.page.waitForSelector('#signed-out:not([hidden])');
            assert.deepEqual(b.problems.filter((p) => !/status of (401|503)/.test(p)), []); /* 503: memory_busy */
            /* the daemon is shared with the other test files: the conversation made here goes */
            const made = (await listIds()).filter((id) => !before.has(id));
            assert.equal(made.length, 1, `conversations made: ${made}`);
            assert.equal((await api(tokensA.access_token, 'DELETE', `/api/v1/conversations/${made[0]}`)).status, 200);
        });

        await check('sign out of this browser (in-page confirm): its device is revoked, its tokens are cleared', async () => {
            const last = await storedTokens(page);
            await page.click('#tab-devices');
            const current = page.locator('#devices li.device[data-current="true"]');
            await current.locator('.signout-btn').click();
            await current.locator('.confirm button', { hasText: 'Yes' }).click();
            await page.waitForSelector('#signed-out:not([hidden])');
            assert.match(await page.textContent('#signed-out-why'), /signed out this browser/);
            assert.equal(await storedTokens(page), undefined);
            assert.equal((await api(last.access_token, 'GET', '/api/v1/auth/me')).status, 401);
            assert.deepEqual(dialogs, [], 'no window.confirm');
        });

        await check('no request to another origin; no errors or CSP reports', async () => {
            assert.deepEqual(external, []);
            /* expected: the daemon's 400s for the bad label and the empty entry, the revoked device's 401s, offline fetches */
            assert.deepEqual(problems.filter((p) => !/status of 40[01]|ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(p)), []);
        });
    } finally {
        await Promise.all([a.browser.close(), b.browser.close()]);
    }
}

main(body);
