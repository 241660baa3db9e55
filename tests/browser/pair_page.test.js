'use strict';
/*
 * End-to-end test of the pairing page (GET /pair) in headless Chromium. Run by run.sh, which starts the daemon and
 * passes HL_BIN, HL_BASE_URL, HL_DAEMON_PID, HL_TMP and HL_CHROMIUM (plus HERMESLINK_HOME etc.) in the environment.
 * Stops at the first failed check; exits 0 only when every check passed.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const { chromium } = require('playwright-core');
const { env, run, tap } = require('./tap.js');
const { launch, storedTokens } = require('./web_client.js');

const { BIN, BASE, DAEMON_PID, TMP, CHROMIUM } = env;
const { check, main } = tap('browser');

const CLOCK_ADVANCE_MS = 6 * 60 * 1000; /* sessions live 5 minutes */


/* ---- helpers ---- */


/* `hermeslink pair` starts a daemon of its own when ours is gone; make sure ours is still there first. */
async function pair(args) {
    try {
        process.kill(DAEMON_PID, 0);
    } catch (e) {
        throw new Error(`the daemon (pid ${DAEMON_PID}) is gone`);
    }
    return (await run(BIN, ['pair', ...args], 20000)).stdout;
}

async function zbar(png) {
    const { stdout } = await run('zbarimg', ['--raw', '-q', png], 15000);
    return stdout.replace(/\n$/, '');
}

async function http(method, urlPath, { body, token } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await fetch(BASE + urlPath, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10000),
    });
    const text = await r.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch (e) {
        /* not JSON */
    }
    return { status: r.status, headers: r.headers, text, json };
}

/* What the second QR code opens: the web client with the session and the code in the fragment. */
function webClientUrl(created) {
    return `${BASE}/app#session=${encodeURIComponent(created.session_id)}&code=${encodeURIComponent(created.connect_token)}`;
}

/* The blocks of consecutive half-block lines (terminal QR codes) in the output of `hermeslink pair`. */
function qrBlocks(out) {
    const blocks = [];
    let cur = null;
    for (const l of out.split('\n')) {
        if (l.length > 0 && /^[\u2588\u2580\u2584 ]+$/.test(l)) {
            if (!cur) blocks.push((cur = []));
            cur.push(l);
        } else {
            cur = null;
        }
    }
    return blocks;
}

/* The QR payload fields the brief and FLOWS.md §2.3 fix, then the whole object against what the daemon reported. */
function assertPayload(decoded, expected, created) {
    assert.equal(decoded.kind, 'hermes_link_pairing');
    assert.equal(decoded.version, 1);
    assert.equal(decoded.session_id, created.session_id);
    assert.equal(decoded.code, created.connect_token);
    assert.ok(Array.isArray(decoded.preferred_urls) && decoded.preferred_urls.length > 0, 'preferred_urls is a non-empty array');
    assert.ok(decoded.preferred_urls.includes(BASE), `preferred_urls ${JSON.stringify(decoded.preferred_urls)} include ${BASE}`);
    if (expected !== undefined) assert.deepEqual(decoded, expected);
}

/* A minimal grayscale PNG writer (8-bit, one filter byte per row), so no image package is needed. */
const CRC_TABLE = (() => {
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        t[n] = c;
    }
    return t;
})();
function crc32(buf) {
    let c = -1;
    for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
}
function pngChunk(type, data) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
}
function grayPng(width, height, pixel /* (x, y) => 0..255 */) {
    const raw = Buffer.alloc((width + 1) * height);
    for (let y = 0; y < height; y++) {
        raw[y * (width + 1)] = 0;
        for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = pixel(x, y);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 0; /* grayscale */
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(raw)),
        pngChunk('IEND', Buffer.alloc(0)),
    ]);
}

/*
 * Renders the half-block QR that `hermeslink pair` prints the way a light-on-dark terminal shows it: a glyph's inked
 * half is light (the terminal's foreground), the rest dark (its background), and the terminal's dark background
 * around the whole block. Each character cell is one module wide and two modules high.
 */
function renderTerminalQr(lines, scale, margin) {
    const cols = Math.max(...lines.map((l) => [...l].length));
    const rows = lines.length * 2;
    const light = []; /* light[y][x] */
    for (const line of lines) {
        const top = [], bottom = [];
        const chars = [...line];
        for (let x = 0; x < cols; x++) {
            const ch = chars[x] ?? ' ';
            top.push(ch === '\u2588' || ch === '\u2580');
            bottom.push(ch === '\u2588' || ch === '\u2584');
        }
        light.push(top, bottom);
    }
    const w = (cols + 2 * margin) * scale, h = (rows + 2 * margin) * scale;
    return grayPng(w, h, (px, py) => {
        const x = Math.floor(px / scale) - margin, y = Math.floor(py / scale) - margin;
        return x >= 0 && y >= 0 && x < cols && y < rows && light[y][x] ? 255 : 0;
    });
}

/* ---- the test ---- */

async function body() {
    for (const [k, v] of Object.entries({ HL_BIN: BIN, HL_BASE_URL: BASE, HL_DAEMON_PID: DAEMON_PID, HL_TMP: TMP }))
        if (!v) throw new Error(`${k} is not set (run this through tests/browser/run.sh)`);

    let created;
    await check('hermeslink pair --json creates a session', async () => {
        created = JSON.parse(await pair(['--json']));
        assert.match(created.session_id, /^ps_/);
        assert.ok(typeof created.connect_token === 'string' && created.connect_token.length >= 20, 'connect_token');
        assert.equal(created.qr_payload.session_id, created.session_id);
        assert.equal(created.qr_payload.code, created.connect_token);
        assert.ok(created.pairing_page_urls.includes(`${BASE}/pair?session_id=${created.session_id}`),
                  `pairing_page_urls ${JSON.stringify(created.pairing_page_urls)}`);
        /* the daemon listens on loopback only here: the web client's base is that address */
        assert.equal(created.web_client_url, webClientUrl(created));
    });
    const pageUrl = `${BASE}/pair?session_id=${encodeURIComponent(created.session_id)}`;

    await check('GET /pair without or with an unknown session_id: 400 / 404', async () => {
        let r = await http('GET', '/pair');
        assert.equal(r.status, 400);
        r = await http('GET', '/pair?session_id=ps_doesnotexist');
        assert.equal(r.status, 404);
    });

    const browser = await chromium.launchPersistentContext(path.join(TMP, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
        deviceScaleFactor: 2,
        viewport: { width: 900, height: 1200 },
        timeout: 20000,
    });
    try {
        browser.setDefaultTimeout(10000);
        const pageErrors = [];
        const watch = (p) => {
            p.on('pageerror', (e) => pageErrors.push(String(e)));
            /* the page runs under a strict CSP (issue 9): anything it blocks is reported on the console */
            p.on('console', (m) => {
                if (/Content Security Policy/i.test(m.text())) pageErrors.push(`CSP: ${m.text()}`);
            });
            p.on('dialog', (d) => {
                pageErrors.push(`dialog: ${d.message()}`);
                d.dismiss().catch(() => {});
            });
        };
        const page = browser.pages()[0] ?? (await browser.newPage());
        watch(page);

        let response;
        await check('the page loads: 200, text/html, no-store, title', async () => {
            response = await page.goto(pageUrl, { waitUntil: 'load' });
            assert.equal(response.status(), 200);
            assert.match(response.headers()['content-type'], /^text\/html/);
            assert.match(response.headers()['cache-control'] ?? '', /no-store/);
            assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'none'/);
            assert.equal(response.headers()['x-frame-options'], 'DENY');
            assert.equal(await page.title(), 'Hermes Link Pairing');
        });

        await check('state is waiting and the code shown is the connect token', async () => {
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'waiting');
            assert.equal((await page.locator('#state').textContent()).trim(), 'waiting');
            assert.equal((await page.locator('#code').textContent()).trim(), created.connect_token);
            assert.ok(await page.locator('#code').isVisible(), '#code visible');
            assert.ok(await page.locator('#pair').isEnabled(), '#pair enabled');
            await page.screenshot({ path: path.join(TMP, 'page-waiting.png'), fullPage: true });
        });

        await check('the page QR (screenshot) decodes to qr_payload', async () => {
            const png = path.join(TMP, 'page-qr.png');
            await page.locator('#qr svg').screenshot({ path: png });
            const text = await zbar(png);
            assertPayload(JSON.parse(text), created.qr_payload, created);
        });

        await check('the second QR (screenshot) decodes to the web client URL the page shows', async () => {
            assert.equal(await page.locator('.qr svg').count(), 2, 'two QR codes');
            const png = path.join(TMP, 'page-web-qr.png');
            await page.locator('#web-qr svg').screenshot({ path: png });
            const text = await zbar(png);
            assert.equal(text, webClientUrl(created));
            assert.equal((await page.locator('#web-url').textContent()).trim(), text);
        });

        /* A second tab on the same session, to see the claim arrive through the page's own 2 s poll. */
        const watcher = await browser.newPage();
        watch(watcher);
        await watcher.goto(pageUrl, { waitUntil: 'load' });
        assert.equal(await watcher.locator('#state').getAttribute('data-state'), 'waiting');

        let access, refresh, deviceId;
        await check('"Pair on this device" opens the web client on this origin, which claims and lands signed in', async () => {
            const claim = page.waitForResponse((r) => r.url().endsWith('/api/v1/pairing/claim'));
            await page.getByRole('button', { name: 'Pair on this device' }).click();
            const cr = await claim;
            assert.equal(cr.status(), 200, `claim status ${cr.status()}: ${await cr.text()}`);
            await page.waitForSelector('body[data-signed-in="true"]');
            await page.waitForSelector('#list-view:not([hidden])');
            const u = new URL(page.url());
            assert.equal(u.origin, new URL(BASE).origin, 'the same origin as the pairing page');
            assert.equal(u.pathname, '/app');
            assert.equal(u.hash, '', 'the fragment is cleared');
            const tokens = await storedTokens(page);
            access = tokens.access_token;
            refresh = tokens.refresh_token;
            deviceId = tokens.device_id;
            assert.match(access, /^hlat_/);
            assert.match(refresh, /^hlrt_/);
            assert.match(deviceId, /^dev_/);
            await page.screenshot({ path: path.join(TMP, 'page-paired-app.png'), fullPage: true });
        });

        await check('the access token works: GET /api/v1/auth/me is 200 with platform "web"', async () => {
            const r = await http('GET', '/api/v1/auth/me', { token: access });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.ok, true);
            assert.equal(r.json.auth.kind, 'device');
            assert.equal(r.json.device.platform, 'web');
            assert.equal(r.json.device.id, deviceId);
            assert.equal(r.json.device.label, 'Web browser');
            assert.equal(r.json.link.link_id, created.qr_payload.link_id);
        });

        await check('the other tab switches to claimed by polling', async () => {
            await watcher.waitForFunction(() => document.getElementById('state').dataset.state === 'claimed', null,
                                          { timeout: 8000 });
            assert.equal((await watcher.locator('#state').textContent()).trim(), 'claimed');
            assert.ok(!(await watcher.locator('#code').isVisible()), 'the code is hidden in the other tab');
            assert.ok(await watcher.locator('#pair').isDisabled(), '#pair disabled in the other tab');
        });
        await watcher.close();

        await check('the pairing page, loaded again, is claimed and holds no code', async () => {
            const r = await page.goto(pageUrl, { waitUntil: 'load' });
            assert.equal(r.status(), 200);
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'claimed');
            assert.equal(await page.locator('#code').count(), 0, 'no #code element');
            assert.equal(await page.locator('#qr').count(), 0, 'no QR');
            assert.equal(await page.locator('#web-qr').count(), 0, 'no web client QR');
            assert.equal(await page.locator('#pair').count(), 0, 'no pair button');
            const html = await r.text();
            assert.ok(!html.includes(created.connect_token), 'the connect token is not in the HTML');
            assert.ok(!html.includes(access) && !html.includes(refresh), 'no device token in the HTML');
        });

        /* Second session: let it expire while the page is open. */
        let second;
        await check('a second session: waiting page, then expired after the clock moves 6 minutes', async () => {
            second = JSON.parse(await pair(['--json']));
            assert.notEqual(second.session_id, created.session_id);
            const url = `${BASE}/pair?session_id=${encodeURIComponent(second.session_id)}`;
            await page.goto(url, { waitUntil: 'load' });
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'waiting');
            assert.equal((await page.locator('#code').textContent()).trim(), second.connect_token);

            const c = await http('POST', '/__test/clock', { body: { advance_ms: CLOCK_ADVANCE_MS } });
            assert.equal(c.status, 200, `POST /__test/clock: ${c.status} ${c.text}`);

            await page.waitForFunction(() => document.getElementById('state').dataset.state === 'expired', null,
                                       { timeout: 8000 });
            assert.ok(!(await page.locator('#code').isVisible()), 'the code is hidden once expired');
            assert.ok(await page.locator('#pair').isDisabled(), '#pair disabled once expired');

            const r = await page.reload({ waitUntil: 'load' });
            assert.equal(r.status(), 200);
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'expired');
            assert.equal(await page.locator('#code').count(), 0, 'no #code element');
            assert.equal(await page.locator('#pair').count(), 0, 'no pair button');
            assert.ok(!(await r.text()).includes(second.connect_token), 'the connect token is not in the HTML');
        });

        await check('the first (claimed) session still shows claimed after its expiry', async () => {
            const r = await page.goto(pageUrl, { waitUntil: 'load' });
            assert.equal(r.status(), 200);
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'claimed');
            assert.equal(await page.locator('#code').count(), 0, 'no #code element');
            await page.waitForTimeout(2500); /* one poll later it must still say claimed */
            assert.equal(await page.locator('#state').getAttribute('data-state'), 'claimed');
        });

        await check('claiming the expired session fails with pairing_session_expired', async () => {
            const r = await http('POST', '/api/v1/pairing/claim',
                                 { body: { session_id: second.session_id, claim_token: second.connect_token } });
            assert.equal(r.status, 404, r.text);
            assert.equal(r.json.error.code, 'pairing_session_expired');
        });

        await check('the web client QR of a new session, opened in a fresh browser, lands signed in', async () => {
            const third = JSON.parse(await pair(['--json']));
            await page.goto(`${BASE}/pair?session_id=${encodeURIComponent(third.session_id)}`, { waitUntil: 'load' });
            const png = path.join(TMP, 'page-web-qr-phone.png');
            await page.locator('#web-qr svg').screenshot({ path: png });
            const url = await zbar(png);
            assert.equal(url, webClientUrl(third));
            assert.equal(url, third.web_client_url);
            const phone = await launch('pair-web');
            try {
                await phone.page.goto(url, { waitUntil: 'load' });
                await phone.page.waitForSelector('body[data-signed-in="true"]');
                await phone.page.waitForSelector('#list-view:not([hidden])');
                assert.equal(new URL(phone.page.url()).hash, '', 'the fragment is cleared');
                const tokens = await storedTokens(phone.page);
                const r = await http('GET', '/api/v1/auth/me', { token: tokens.access_token });
                assert.equal(r.status, 200, r.text);
                assert.equal(r.json.device.platform, 'web');
                assert.notEqual(r.json.device.id, deviceId, 'a device of its own');
                await phone.page.screenshot({ path: path.join(TMP, 'web-client-phone.png') });
                assert.deepEqual(phone.problems, []);
                assert.deepEqual(phone.external, []);
            } finally {
                await phone.browser.close();
            }
            await page.waitForFunction(() => document.getElementById('state').dataset.state === 'claimed', null,
                                       { timeout: 8000 });
        });

        await check('no script errors, alerts or CSP violations on the page', async () => {
            assert.deepEqual(pageErrors, []);
        });
    } finally {
        await browser.close();
    }

    await check('the terminal QR of `hermeslink pair` decodes to its session and token', async () => {
        const out = await pair([]);
        const lines = out.split('\n');
        const qr = lines.filter((l) => l.length > 0 && /^[\u2588\u2580\u2584 ]+$/.test(l));
        assert.ok(qr.length >= 10, `a half-block QR in the output:\n${out}`);
        const sid = /^Session ID:\s+(\S+)$/m.exec(out)?.[1];
        const token = /^Connect token:\s+(\S+)$/m.exec(out)?.[1];
        assert.ok(sid && token, 'session id and connect token printed');
        assert.equal(qrBlocks(out).length, 1, 'one QR code without --web');
        assert.ok(!out.includes('Web client:'), 'no web client line without --web');
        const png = path.join(TMP, 'terminal-qr.png');
        fs.writeFileSync(png, renderTerminalQr(qr, 8, 6));
        assertPayload(JSON.parse(await zbar(png)), undefined, { session_id: sid, connect_token: token });
    });

    await check('`hermeslink pair --web`: the normal output, then a second QR that decodes to the "Web client:" URL', async () => {
        const out = await pair(['--web']);
        const sid = /^Session ID: {6}(ps_\S+)$/m.exec(out)?.[1];
        const token = /^Connect token: {3}(\S+)$/m.exec(out)?.[1];
        assert.ok(sid && token, `session id and connect token printed:\n${out}`);
        const web = /^Web client: {6}(\S+)$/m.exec(out)?.[1];
        const want = webClientUrl({ session_id: sid, connect_token: token });
        assert.equal(web, want);
        assert.ok(out.indexOf('Connect token:') < out.indexOf('Web client:'), 'the web client comes after the usual lines');
        const blocks = qrBlocks(out);
        assert.equal(blocks.length, 2, `two QR codes in:\n${out}`);
        const png = path.join(TMP, 'terminal-web-qr.png');
        fs.writeFileSync(png, renderTerminalQr(blocks[1], 8, 6));
        assert.equal(await zbar(png), want);
        /* the first one is still the app's */
        fs.writeFileSync(png, renderTerminalQr(blocks[0], 8, 6));
        assertPayload(JSON.parse(await zbar(png)), undefined, { session_id: sid, connect_token: token });
    });
}

main(body);
