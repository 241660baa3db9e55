'use strict';
/*
 * The web client across a daemon crash: a daemon of this test's own (its own HERMESLINK_HOME and HERMES_HOME under
 * HL_TMP, pointed at run.sh's fake upstream, on a port it picks) is killed with SIGKILL while an answer streams in, and
 * started again on the same port. The page's event stream reconnects by itself from the last event it saw, the answer
 * ends as the daemon's record of it says (the restarted daemon reconciles the run with the fake), and the messages shown
 * are exactly the daemon's: none lost, none twice; a next message works. The daemon is stopped with SIGTERM at the end
 * (exit 0, no sanitizer report); its pid file lets run.sh's cleanup find it if this test dies first.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const { env, tap } = require('./tap.js');
const { launch, PHONE } = require('./web_client.js');

const { BIN, TMP } = env;
const { check, main } = tap('browser (app restart)');

const HOME = path.join(TMP, 'home-restart');
const HERMES = path.join(TMP, 'hermes-restart');
const daemonEnv = Object.assign({}, process.env, { HERMESLINK_HOME: HOME, HERMES_HOME: HERMES });

/* Starts the daemon (on port, or a free one when 0) and resolves {proc, port, stderr} once it printed its port. */
function startDaemon(port) {
    return new Promise((resolve, reject) => {
        const args = ['run', '--port', port ? String(port) : 'auto', '--tls-port', '0', '--listen', '127.0.0.1'];
        const proc = spawn(BIN, args, { env: daemonEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        const stderr = [];
        proc.stderr.on('data', (d) => stderr.push(d));
        const timer = setTimeout(() => reject(new Error(`the daemon did not start: ${out} ${Buffer.concat(stderr)}`)), 15000);
        proc.stdout.on('data', (d) => {
            out += d;
            const m = /Hermes Link running on port (\d+)/.exec(out);
            if (m) {
                clearTimeout(timer);
                resolve({ proc, port: Number(m[1]), stderr });
            }
        });
        proc.on('exit', (code, sig) => {
            clearTimeout(timer);
            reject(new Error(`the daemon exited (${code ?? sig}) before it was ready: ${Buffer.concat(stderr)}`));
        });
    });
}

function exited(proc) {
    return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) resolve({ code: proc.exitCode, signal: proc.signalCode });
        else proc.once('exit', (code, signal) => resolve({ code, signal }));
    });
}

function pairJson() {
    return new Promise((resolve, reject) =>
        execFile(BIN, ['pair', '--json'], { env: daemonEnv, timeout: 20000 }, (err, stdout, stderr) =>
            err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))
        )
    );
}

async function body() {
    /* this daemon's Hermes home: the fake upstream run.sh started, as in run.sh's own HERMES_HOME */
    fs.mkdirSync(HOME, { recursive: true, mode: 0o700 });
    fs.mkdirSync(HERMES, { recursive: true });
    fs.copyFileSync(path.join(TMP, 'hermes', '.env'), path.join(HERMES, '.env'));
    let daemon = await startDaemon(0);
    const port = daemon.port;
    const base = `http://127.0.0.1:${port}`;
    const { browser, page, problems, external } = await launch('restart', PHONE, base);
    try {
        let convId;
        const api = async (method, p, token, json) => {
            const res = await fetch(`${base}${p}`, {
                method,
                headers: Object.assign({ Authorization: `Bearer ${token}` }, json ? { 'Content-Type': 'application/json' } : {}),
                body: json ? JSON.stringify(json) : undefined,
            });
            return { status: res.status, body: await res.json() };
        };
        const token = async () =>
            page.evaluate(async () => (await (await import('/app/api.js')).loadTokens()).access_token);

        await check('paired with a daemon of its own; a conversation opens', async () => {
            const created = await pairJson();
            await page.goto(`${base}/app#session=${encodeURIComponent(created.session_id)}&code=${encodeURIComponent(created.connect_token)}`);
            await page.waitForSelector('body[data-signed-in="true"]');
            await page.click('#new-conv');
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Signed in');
        });

        await check('SIGKILL while the answer streams, restart on the same port: the stream comes back by itself', async () => {
            await page.fill('#input', 'Tell me a long story [[fake:drip;deltas=120;gap_ms=40]]');
            await page.click('#send');
            /* partial text on screen: the run is mid-stream */
            await page.waitForFunction(() => {
                const a = document.querySelector('#messages li.msg.assistant');
                return a && a.dataset.status === 'streaming' && a.textContent.length > 5;
            });
            daemon.proc.kill('SIGKILL');
            await exited(daemon.proc);
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Reconnecting…');
            daemon = await startDaemon(port);
            assert.equal(daemon.port, port);
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Signed in', null, { timeout: 20000 });
        });

        await check('the answer ends as the daemon recorded it; nothing lost or shown twice', async () => {
            /* the restarted daemon follows the run again or polls the fake until it ended (every 2 s) */
            await page.waitForFunction(() => {
                const a = document.querySelector('#messages li.msg.assistant');
                return a && a.dataset.status !== 'streaming' && a.dataset.status !== 'queued' && a.dataset.status !== '';
            }, null, { timeout: 25000 });
            const t = await token();
            const list = await api('GET', '/api/v1/conversations?limit=5', t);
            assert.equal(list.status, 200);
            convId = list.body.conversations[0].id;
            const msgs = await api('GET', `/api/v1/conversations/${convId}/messages?limit=100`, t);
            assert.equal(msgs.status, 200);
            const shown = await page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({ id: li.dataset.id, status: li.dataset.status })));
            const stored = msgs.body.messages.map((m) => ({ id: m.id, status: m.status }));
            assert.deepEqual(shown, stored, 'the page shows exactly the daemon\'s messages');
            assert.equal(new Set(shown.map((m) => m.id)).size, shown.length);
            assert.equal(stored[1].status, 'completed', `the run's end after the restart: ${JSON.stringify(msgs.body.messages[1])}`);
            const text = (m) => (m.parts || []).filter((p) => typeof p.text === 'string').map((p) => p.text).join('');
            assert.equal((await page.locator('#messages li.msg.assistant .text').first().textContent()).trim(), text(msgs.body.messages[1]).trim());
        });

        await check('a next message after the restart streams in', async () => {
            await page.fill('#input', 'And now?');
            await page.click('#send');
            await page.locator('#messages li.msg.assistant').nth(1).waitFor();
            await page.waitForFunction(() => {
                const a = document.querySelectorAll('#messages li.msg.assistant')[1];
                return a && a.dataset.status === 'completed';
            }, null, { timeout: 20000 });
            const ids = await page.$$eval('#messages li.msg', (lis) => lis.map((li) => li.dataset.id));
            assert.equal(ids.length, 4, `messages shown: ${ids}`);
            assert.equal(new Set(ids).size, 4);
            await page.screenshot({ path: path.join(TMP, 'app-after-restart-phone.png') });
        });

        await check('offline and back online: the stream reconnects at once from the last event; what came meanwhile shows once', async () => {
            const streams = [];
            page.on('request', (r) => {
                if (/\/events(\?|$)/.test(r.url())) streams.push(r.url());
            });
            await page.evaluate(() => {
                window.__online = 0;
                window.addEventListener('online', () => window.__online++);
            });
            await page.context().setOffline(true);
            /* another device's message while this one is offline: its answer must show once the page is back */
            const t = await token();
            const sent = await api('POST', `/api/v1/conversations/${convId}/messages`, t, { content: 'From elsewhere', client_message_id: 'other-device-1' });
            assert.equal(sent.status, 202, JSON.stringify(sent.body));
            await page.waitForTimeout(300);
            const before = streams.length;
            await page.context().setOffline(false); /* fires 'online': the client drops its connection and reconnects */
            await page.locator('#messages li.msg.user', { hasText: 'From elsewhere' }).waitFor({ timeout: 10000 });
            await page.waitForFunction(() => {
                const a = document.querySelectorAll('#messages li.msg.assistant')[2];
                return a && a.dataset.status === 'completed';
            }, null, { timeout: 20000 });
            const deadline = Date.now() + 10000;
            const resumed = () => streams.slice(before).some((u) => /after=\d+/.test(u));
            while (!resumed() && Date.now() < deadline) await page.waitForTimeout(50);
            assert.ok(resumed(), `stream requests after going online: ${streams.slice(before)} (online events: ${await page.evaluate(() => window.__online)})`);
            await page.waitForFunction(() => document.getElementById('status').textContent === 'Signed in');
            await page.waitForTimeout(300); /* a replay doubling a message would show by now */
            const ids = await page.$$eval('#messages li.msg', (lis) => lis.map((li) => li.dataset.id));
            const msgs = await api('GET', `/api/v1/conversations/${convId}/messages?limit=100`, await token());
            assert.deepEqual(ids, msgs.body.messages.map((m) => m.id));
            assert.equal(ids.length, 6);
        });

        await check('no request to another origin; no script errors besides the dropped connections', async () => {
            assert.deepEqual(external, []);
            /* while the daemon was down the browser logs failed fetches; nothing else */
            assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED|ERR_NETWORK_CHANGED|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING|Failed to fetch|ERR_CONNECTION_RESET|network error/i.test(p)), []);
        });
    } finally {
        await browser.close();
        if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
            daemon.proc.kill('SIGTERM');
            const { code, signal } = await exited(daemon.proc);
            const err = Buffer.concat(daemon.stderr).toString();
            if (code !== 0 || /Sanitizer|runtime error:/.test(err))
                throw new Error(`the restarted daemon exited with ${code ?? signal}: ${err.slice(-3000)}`);
        }
    }
}

main(body);
