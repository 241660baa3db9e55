'use strict';
/*
 * End-to-end test of the API reference page (GET /api/docs) in headless Chromium, offline: every request outside the
 * daemon's origin is refused (and counted as a failure). Run by run.sh after pair_page.test.js against the same daemon,
 * with HL_BIN, HL_BASE_URL, HL_DAEMON_PID, HL_TMP and HL_CHROMIUM in the environment. Pairs a device through
 * `hermeslink pair` + POST /api/v1/auth/device-session, pastes its access token in the page, calls GET /api/v1/auth/me
 * from the page and checks the status shown. Exits 0 only when every check passed.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { env, run, tap } = require('./tap.js');
const { launch } = require('./web_client.js');

const { BIN, BASE, DAEMON_PID, TMP } = env;
const { check, main } = tap('browser (docs)');
const DOCS_SIZE = { viewport: { width: 1100, height: 1400 } };

/* A device access token: `hermeslink pair` mints a connect token, device-session turns it into a device. */
async function accessToken() {
    process.kill(DAEMON_PID, 0); /* `pair` would start a daemon of its own if ours were gone */
    const out = (await run(BIN, ['pair'], 20000)).stdout;
    const connect = /^Connect token:\s+(\S+)$/m.exec(out)?.[1];
    assert.ok(connect, `a connect token in the output of hermeslink pair:\n${out}`);
    const r = await fetch(`${BASE}/api/v1/auth/device-session`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${connect}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ device_label: 'docs page test', device_platform: 'test' }),
        signal: AbortSignal.timeout(10000),
    });
    const json = await r.json();
    assert.equal(r.status, 200, JSON.stringify(json));
    return json.access_token.token;
}

async function body() {
    const spec = await (await fetch(`${BASE}/api/docs/openapi.json`, { signal: AbortSignal.timeout(10000) })).json();
    const ops = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    const tags = new Set(Object.values(spec.paths).flatMap((item) => Object.values(item).map((op) => op.tags[0])));
    const token = await accessToken();

    /* offline: only the daemon's own origin is reachable */
    const { browser, page, problems, external } = await launch('docs', DOCS_SIZE);
    try {
        browser.setDefaultTimeout(10000);

        await check('the page loads and renders every operation of openapi.json, grouped by tag', async () => {
            const r = await page.goto(`${BASE}/api/docs`, { waitUntil: 'load' });
            assert.equal(r.status(), 200);
            assert.match(r.headers()['content-security-policy'] || '', /default-src 'self'/);
            await page.waitForSelector('body[data-ready="1"]');
            assert.equal(await page.locator('details.op').count(), ops);
            assert.equal(await page.locator('section.tag').count(), tags.size);
            assert.equal(await page.locator('#version').textContent(), `v${spec.info.version}`);
        });

        await check('a screenshot of the page is written', async () => {
            const png = path.join(TMP, 'docs-page.png');
            await page.screenshot({ path: png, fullPage: false });
            assert.ok(fs.statSync(png).size > 0, 'screenshot is empty');
        });

        await check('a pasted token is kept in sessionStorage', async () => {
            await page.fill('#token', token);
            assert.equal(await page.evaluate(() => sessionStorage.getItem('hl-docs-token')), token);
        });

        await check('try it: GET /api/v1/auth/me from the page shows 200 and the device', async () => {
            const op = page.locator('details[data-op="GET /api/v1/auth/me"]');
            await op.locator('summary').click();
            await op.locator('button.send').click();
            const status = op.locator('.result-status[data-status]');
            await status.waitFor();
            assert.equal(await status.getAttribute('data-status'), '200', await status.textContent());
            const body = JSON.parse(await op.locator('.result-body').textContent());
            assert.equal(body.ok, true);
            assert.equal(body.device.label, 'docs page test');
            await page.screenshot({ path: path.join(TMP, 'docs-page-call.png') });
        });

        await check('try it without a token: the page shows the 401', async () => {
            await page.click('#token-clear');
            const op = page.locator('details[data-op="GET /api/v1/status"]');
            await op.locator('summary').click();
            await op.locator('button.send').click();
            await op.locator('.result-status[data-status]').waitFor();
            assert.equal(await op.locator('.result-status').getAttribute('data-status'), '401');
        });

        await check('nothing outside the origin was requested; no script errors or CSP violations', async () => {
            assert.deepEqual(external, []);
            assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
        });
    } finally {
        await browser.close();
    }
}

main(body);
