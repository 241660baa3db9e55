'use strict';
/*
 * End-to-end test of the web client (GET /app) in headless Chromium at a phone's size, against the real daemon whose
 * default profile points at the fake upstream (run.sh starts both). Run by run.sh after docs_page.test.js, with HL_BIN,
 * HL_BASE_URL, HL_DAEMON_PID, HL_TMP and HL_CHROMIUM in the environment. Pairs through `hermeslink pair --json` and
 * /app#session=…&code=…, checks the client lands signed in (tokens in IndexedDB, fragment cleared), creates a
 * conversation, sends a message and sees the fake's streamed answer, sends `<img src=x onerror=…>` and sees it as text,
 * and checks the budget: zero requests to another origin, the shell's bytes as served under 200 KB. Saves screenshots
 * in HL_TMP. Exits 0 only when every check passed.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { env, tap } = require('./tap.js');
const { launch, newPairing, storedTokens, watchAnswers } = require('./web_client.js');

const { BASE, TMP } = env;
const { check, main } = tap('browser (app)');

const FAKE_TEXT = 'Hello from the fake LLM.';
const SHELL_BUDGET = 200 * 1024;

async function body() {
    const created = await newPairing();
    const { browser, page, problems, external } = await launch('app');
    try {
        const shell = new Map(); /* url → bytes as served, for /app and /app/… */
        const dialogs = [];
        page.on('dialog', (d) => {
            dialogs.push(d.message());
            d.dismiss().catch(() => {});
        });
        page.on('response', async (r) => {
            const u = new URL(r.url());
            if (u.origin === BASE && (u.pathname === '/app' || u.pathname.startsWith('/app/')) && r.status() === 200) {
                try {
                    shell.set(u.pathname, (await r.body()).length);
                } catch (e) {
                    problems.push(`body of ${u.pathname}: ${e}`);
                }
            }
        });

        await check('/app#session=…&code=… claims the pairing and lands signed in, fragment cleared', async () => {
            const url = `${BASE}/app#session=${encodeURIComponent(created.session_id)}&code=${encodeURIComponent(created.connect_token)}`;
            const r = await page.goto(url, { waitUntil: 'load' });
            assert.equal(r.status(), 200);
            assert.match(r.headers()['content-security-policy'] || '', /default-src 'self'/);
            assert.match(r.headers()['etag'] || '', /^"[0-9a-f]{64}-gz"$/, 'the browser asks for gzip and gets it');
            assert.equal(r.headers()['content-encoding'], 'gzip');
            await page.waitForSelector('body[data-signed-in="true"]');
            await page.waitForSelector('#list-view:not([hidden])');
            assert.equal(await page.evaluate(() => location.hash), '');
            assert.equal(await page.evaluate(() => location.href), `${BASE}/app`);
            const tokens = await storedTokens(page);
            assert.ok(tokens && tokens.access_token && tokens.refresh_token, 'tokens in IndexedDB');
            const me = await fetch(`${BASE}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${tokens.access_token}` } });
            assert.equal(me.status, 200);
            assert.equal((await me.json()).device.platform, 'web');
        });

        await check('a reload stays signed in (tokens from IndexedDB)', async () => {
            await page.reload({ waitUntil: 'load' });
            await page.waitForSelector('body[data-signed-in="true"]');
            await page.waitForSelector('#list-view:not([hidden])');
        });

        let firstConv = null; /* this test's first conversation (other test files leave theirs in the list too) */
        await check('a new conversation opens', async () => {
            const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/conversations') && r.request().method() === 'POST');
            await page.click('#new-conv');
            firstConv = (await (await created).json()).conversation.id;
            await page.waitForSelector('#conv-view:not([hidden])');
        });

        await check('a message is sent and the fake upstream\'s answer streams in', async () => {
            /* every text the answer shows while it streams, to see it grow before it completes */
            await watchAnswers(page);
            await page.fill('#input', 'Hi there');
            await page.click('#send');
            await page.locator('#messages li.msg.user', { hasText: 'Hi there' }).waitFor();
            const answer = page.locator('#messages li.msg.assistant[data-status="completed"]');
            await answer.first().waitFor({ timeout: 20000 });
            assert.match(await answer.first().textContent(), new RegExp(FAKE_TEXT.replace(/\./g, '\\.')));
            const seen = await page.evaluate(() => window.__seen);
            assert.ok(seen.some((s) => /^streaming:[1-9]/.test(s)), `the answer never showed partial text: ${seen.slice(0, 20)}`);
            await page.screenshot({ path: path.join(TMP, 'app-conversation-phone.png') });
        });

        await check('a message with markup is rendered as text, never as HTML', async () => {
            const evil = '<img src=x onerror=alert(1)>';
            await page.fill('#input', evil);
            await page.click('#send');
            const mine = page.locator('#messages li.msg.user', { hasText: evil });
            await mine.waitFor();
            assert.equal((await mine.textContent()).trim(), evil);
            assert.equal(await page.locator('#messages img').count(), 0);
            await page.locator('#messages li.msg.assistant[data-status="completed"]').nth(1).waitFor({ timeout: 20000 });
            assert.deepEqual(dialogs, []);
        });

        await check('a screenshot of the conversation (phone size) is written', async () => {
            const png = path.join(TMP, 'app-phone.png');
            await page.screenshot({ path: png });
            assert.ok(fs.statSync(png).size > 0, 'screenshot is empty');
            console.log(`# screenshot: ${png}`);
        });

        await check('the conversation is listed', async () => {
            await page.click('#back');
            await page.waitForSelector('#list-view:not([hidden])');
            await page.locator(`#conversations button.conv[data-id="${firstConv}"]`).waitFor();
        });

        await check('tokens rotated by another tab: the client takes the stored pair and stays signed in', async () => {
            /* a second Client on the same IndexedDB (as another tab would be) refreshes: the daemon retires the old pair */
            const before = await page.evaluate(async () => {
                const api = await import('/app/api.js');
                const old = await api.loadTokens();
                const other = new api.Client(Object.assign({}, old), () => {});
                await other.refresh();
                clearTimeout(other.timer);
                return { old, now: await api.loadTokens() };
            });
            assert.notEqual(before.now.refresh_token, before.old.refresh_token);
            assert.notEqual(before.now.access_token, before.old.access_token);
            const stale = await fetch(`${BASE}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${before.old.access_token}` } });
            assert.equal(stale.status, 401, 'the old access token is retired');
            /* the page's client still holds the old pair: its next call gets 401, takes the stored pair, retries */
            await page.click('#new-conv');
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.click('#back');
            await page.waitForSelector('#list-view:not([hidden])');
            await page.waitForFunction(() => document.querySelectorAll('#conversations button.conv').length >= 2);
            assert.equal(await page.evaluate(() => document.body.dataset.view), 'list-view');
            const now = await page.evaluate(async () => (await import('/app/api.js')).loadTokens());
            assert.equal(now.refresh_token, before.now.refresh_token, 'no second rotation (no reuse of a retired token)');
            const me = await fetch(`${BASE}/api/v1/auth/me`, { headers: { Authorization: `Bearer ${now.access_token}` } });
            assert.equal(me.status, 200, 'the device is still valid');
        });

        await check('the event stream resumes after the daemon ends it (token rotated): nothing lost or doubled', async () => {
            const events = [];
            page.on('request', (r) => {
                if (/\/events(\?|$)/.test(r.url())) events.push(r.url());
            });
            await page.locator(`#conversations button.conv[data-id="${firstConv}"]`).click(); /* the first conversation, with 4 messages */
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.locator('#messages li.msg').nth(3).waitFor();
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Signed in');
            while (events.length < 1) await page.waitForTimeout(50);
            const first = events.length;
            await page.evaluate(async () => {
                const api = await import('/app/api.js');
                const other = new api.Client(await api.loadTokens(), () => {});
                await other.refresh();
                clearTimeout(other.timer);
            });
            /* the daemon ends the stream within ~1 s; the client gets a 401, takes the stored pair, reconnects after=<last id> */
            const deadline = Date.now() + 15000;
            const reconnected = () => events.slice(first).some((u) => /after=\d+/.test(u));
            while (!reconnected() && Date.now() < deadline) await page.waitForTimeout(100);
            assert.ok(reconnected(), `stream requests: ${events}`);
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Signed in');
            await page.fill('#input', 'Still there?');
            await page.click('#send');
            await page.locator('#messages li.msg.user', { hasText: 'Still there?' }).waitFor();
            await page.locator('#messages li.msg.assistant[data-status="completed"]').nth(2).waitFor({ timeout: 20000 });
            const ids = await page.$$eval('#messages li.msg', (lis) => lis.map((li) => li.dataset.id));
            assert.equal(ids.length, 6, `messages shown: ${ids}`);
            assert.equal(new Set(ids).size, ids.length, 'a message shown twice');
            await page.screenshot({ path: path.join(TMP, 'app-resumed-phone.png') });
        });

        await check('budget: no request to another origin, the shell under 200 KB as served; no errors or CSP reports', async () => {
            assert.deepEqual(external, []);
            const total = [...shell.values()].reduce((a, b) => a + b, 0);
            assert.ok(shell.has('/app') && shell.has('/app/app.js'), `shell files seen: ${[...shell.keys()]}`);
            assert.ok(total < SHELL_BUDGET, `shell ${total} bytes`);
            console.log(`# shell: ${total} bytes in ${shell.size} files`);
            /* the 401 of the stale access token above is expected; nothing else */
            assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
        });
    } finally {
        await browser.close();
    }
}

main(body);
