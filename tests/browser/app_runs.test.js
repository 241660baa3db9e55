'use strict';
/*
 * What happens inside a conversation of the web client (GET /app), in headless Chromium against the real daemon and the
 * fake upstream (run.sh starts both; FAKE-UPSTREAM.md §3 for the [[fake:…]] scenarios): a tool call shows as a row that
 * runs then completes; an approval shows as a card whose scope and Approve / Deny reach the daemon (the card and the
 * stored approval say approved with that scope, or denied); a slow run shows "Thinking… N s" and Stop, which cancels it
 * (the message ends cancelled, Send comes back); attachments picked through the file input, pasted and dropped are
 * previewed, uploaded with progress, sent, and shown on the message (the image from a blob: URL, actually decoded; the
 * text file as a download link), and the API has them on the message. Phone and desktop screenshots go to HL_TMP.
 * Exits 0 only when every check passed.
 */
const assert = require('node:assert/strict');
const path = require('node:path');
const { env, tap } = require('./tap.js');
const { DESKTOP, launch, pairPage, api } = require('./web_client.js');

const { TMP } = env;
const { check, main } = tap('browser (app runs)');

/* a valid 16×16 PNG (two colours) */
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAIUlEQVR42mP4sEUDKzKNuIYVMYxqoIkGXBK4DBrVQBMNADcgl5Dk35ODAAAAAElFTkSuQmCC';

/* The newest answer, and waiting until it has a status. */
const lastAnswer = (page) => page.locator('#messages li.msg.assistant').last();
function answerStatus(page, status, timeout = 15000) {
    return page.waitForFunction(
        (s) => {
            const all = document.querySelectorAll('#messages li.msg.assistant');
            return all.length > 0 && all[all.length - 1].dataset.status === s;
        },
        status,
        { timeout }
    );
}

async function send(page, text) {
    await page.fill('#input', text);
    await page.press('#input', 'Enter');
    await page.locator('#messages li.msg.user', { hasText: text }).waitFor();
}

/* The assistant messages of the conversation as the API has them. */
async function apiMessages(token, convId) {
    const r = await api(token, 'GET', `/api/v1/conversations/${convId}/messages?limit=100`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.messages;
}

async function body() {
    const { browser, page, problems, external } = await launch('runs');
    try {
        const tokens = await pairPage(page);
        let convId;

        await check('a new conversation opens with the attach button and no Stop', async () => {
            const [created] = await Promise.all([
                page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/conversations$/.test(r.url())),
                page.click('#new-conv'),
            ]);
            convId = (await created.json()).conversation.id;
            await page.waitForSelector('#conv-view:not([hidden])');
            assert.ok(await page.locator('#attach').isVisible());
            assert.ok(await page.locator('#send').isVisible());
            assert.equal(await page.locator('#stop').isVisible(), false);
            assert.equal(await page.locator('#run-status').isVisible(), false);
        });

        await check('a tool call shows as a row that runs, then completes with its duration', async () => {
            /* every state a tool row and the status line show, to see the running state before the completed one */
            await page.evaluate(() => {
                window.__tool = [];
                window.__line = [];
                new MutationObserver(() => {
                    for (const r of document.querySelectorAll('#messages .tool')) window.__tool.push(`${r.dataset.state}:${r.textContent}`);
                    const s = document.getElementById('run-status');
                    if (!s.hidden) window.__line.push(s.textContent);
                }).observe(document.getElementById('conv-view'), { subtree: true, childList: true, characterData: true, attributes: true });
            });
            await send(page, 'List the files [[fake:tool;tool=terminal;preview=ls -la /srv;duration_ms=800]]');
            const msg = lastAnswer(page);
            await answerStatus(page, 'completed');
            const row = msg.locator('.activity .tool');
            assert.equal(await row.count(), 1);
            assert.equal(await row.getAttribute('data-state'), 'done');
            assert.equal(await row.locator('.tool-name').textContent(), 'terminal');
            assert.equal(await row.locator('.tool-preview').textContent(), 'ls -la /srv');
            assert.match(await row.locator('.tool-time').textContent(), /^\d+(\.\d+)? s$/);
            assert.match(await msg.locator('.text').textContent(), /Hello from the fake LLM\./);
            const seen = await page.evaluate(() => ({ tool: window.__tool, line: window.__line }));
            assert.ok(seen.tool.some((s) => s.startsWith('running:terminal')), `tool row states: ${seen.tool.slice(0, 10)}`);
            assert.ok(seen.line.some((s) => /^Running terminal… \d+ s$/.test(s)), `status lines: ${[...new Set(seen.line)]}`);
            assert.equal(await page.locator('#run-status').isVisible(), false, 'the status line goes once the run ended');
            assert.ok(await page.locator('#send').isVisible());
            /* the same row after a reload (from the message's agent_events) */
            const apiMsg = (await apiMessages(tokens.access_token, convId)).filter((m) => m.role === 'assistant').pop();
            assert.deepEqual(apiMsg.agent_events.map((e) => e.type), ['tool.started', 'tool.completed']);
        });

        await check('an approval shows as a card; a scope and Approve resolve it, the run completes', async () => {
            await send(page, 'Clean up [[fake:approval;command=rm -rf /tmp/scratch;description=delete a folder]]');
            const card = lastAnswer(page).locator('.approval');
            await card.waitFor();
            assert.equal(await card.getAttribute('data-status'), 'pending');
            assert.equal(await card.locator('.approval-command').textContent(), 'rm -rf /tmp/scratch');
            assert.equal(await card.locator('.approval-description').textContent(), 'delete a folder');
            assert.deepEqual(await card.locator('select option').evaluateAll((os) => os.map((o) => o.value)), ['once', 'session', 'always']);
            await page.waitForFunction(() => /^Waiting for your approval… \d+ s$/.test(document.getElementById('run-status').textContent));
            assert.ok(await page.locator('#stop').isVisible(), 'Stop while the run waits');
            await page.screenshot({ path: path.join(TMP, 'app-runs-approval-phone.png') });
            await card.locator('select').selectOption('session');
            await card.locator('button.approve').click();
            await answerStatus(page, 'completed', 15000);
            assert.equal(await card.getAttribute('data-status'), 'approved');
            assert.equal(await card.locator('.approval-outcome').textContent(), 'Approved (this session)');
            assert.equal(await card.locator('button.approve').isVisible(), false);
            assert.equal(await lastAnswer(page).locator('.tool').getAttribute('data-state'), 'done');
            const m = (await apiMessages(tokens.access_token, convId)).filter((x) => x.role === 'assistant').pop();
            assert.equal(m.approvals.length, 1);
            assert.equal(m.approvals[0].status, 'approved');
            assert.equal(m.approvals[0].decision, 'session');
        });

        await check('a second approval denied: the card says denied, the tool failed, the run still completes', async () => {
            await send(page, 'Again [[fake:approval]]');
            const card = lastAnswer(page).locator('.approval');
            await card.waitFor();
            await card.locator('button.deny').click();
            await answerStatus(page, 'completed', 15000);
            assert.equal(await card.getAttribute('data-status'), 'denied');
            assert.equal(await card.locator('.approval-outcome').textContent(), 'Denied');
            assert.equal(await lastAnswer(page).locator('.tool').getAttribute('data-state'), 'error');
            const m = (await apiMessages(tokens.access_token, convId)).filter((x) => x.role === 'assistant').pop();
            assert.equal(m.approvals[0].status, 'denied');
        });

        await check('an approval decided by another device updates the card', async () => {
            await send(page, 'Elsewhere [[fake:approval]]');
            const card = lastAnswer(page).locator('.approval');
            await card.waitFor();
            const id = await card.getAttribute('data-id');
            const r = await api(tokens.access_token, 'POST', `/api/v1/conversations/${convId}/approvals/${id}/approve`, { scope: 'always' });
            assert.equal(r.status, 200, JSON.stringify(r.body));
            await answerStatus(page, 'completed');
            await lastAnswer(page).locator('.approval[data-status="approved"]').waitFor();
            assert.equal(await card.locator('.approval-outcome').textContent(), 'Approved (always)');
        });

        await check('a slow run shows "Thinking… N s" and Stop; Stop cancels it and Send comes back', async () => {
            await send(page, 'Take your time [[fake:slow;first_delay_ms=30000]]');
            await answerStatus(page, 'streaming');
            await page.locator('#stop').waitFor();
            assert.equal(await page.locator('#send').isVisible(), false);
            await page.waitForFunction(() => /^Thinking… [1-9]\d* s$/.test(document.getElementById('run-status').textContent), null, { timeout: 5000 });
            await page.screenshot({ path: path.join(TMP, 'app-runs-thinking-phone.png') });
            await page.click('#stop');
            await answerStatus(page, 'cancelled', 10000);
            await page.locator('#send').waitFor();
            assert.equal(await page.locator('#stop').isVisible(), false);
            assert.equal(await page.locator('#run-status').isVisible(), false);
            const m = (await apiMessages(tokens.access_token, convId)).filter((x) => x.role === 'assistant').pop();
            assert.equal(m.status, 'cancelled');
        });

        await check('attachments: picked, pasted and dropped files are previewed and uploaded, then sent and shown', async () => {
            await page.setInputFiles('#file-input', { name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(PNG_B64, 'base64') });
            const chips = page.locator('#attach-tray .chip');
            await chips.first().waitFor();
            assert.match(await chips.first().locator('img.thumb').getAttribute('src'), /^blob:/);
            /* a pasted image and a dropped text file, through DataTransfer objects built in the page */
            await page.evaluate((b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const paste = new DataTransfer();
                paste.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
                document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
                const drop = new DataTransfer();
                drop.items.add(new File(['some notes\n'], 'notes.txt', { type: 'text/plain' }));
                const messages = document.getElementById('messages');
                messages.dispatchEvent(new DragEvent('dragover', { dataTransfer: drop, bubbles: true, cancelable: true }));
                messages.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
            }, PNG_B64);
            assert.equal(await chips.count(), 3);
            assert.deepEqual(await chips.locator('.chip-name').allTextContents(), ['dot.png', 'pasted.png', 'notes.txt']);
            /* each upload shows a progress bar until it is done */
            assert.equal(await chips.locator('progress').count(), 3);
            await page.waitForFunction(() => [...document.querySelectorAll('#attach-tray .chip')].every((c) => c.dataset.state === 'done'));
            await page.screenshot({ path: path.join(TMP, 'app-runs-tray-phone.png') });
            /* a file over the limit is refused with a clear message, without an upload */
            await page.evaluate(() => {
                const big = new File([new Uint8Array(1)], 'huge.bin');
                Object.defineProperty(big, 'size', { value: 60 * 1024 * 1024 });
                const dt = new DataTransfer();
                dt.items.add(big);
                document.getElementById('input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
            });
            assert.match(await page.locator('#attach-error').textContent(), /huge\.bin.*limit is 50\.0 MB/);
            assert.equal(await chips.count(), 3);
            /* removing one takes it out of the message */
            await chips.nth(1).locator('.chip-remove').click();
            assert.equal(await chips.count(), 2);
            await send(page, 'Here are my files');
            await page.locator('#attach-tray').waitFor({ state: 'hidden' });
            const mine = page.locator('#messages li.msg.user', { hasText: 'Here are my files' });
            const img = mine.locator('img.attachment-image');
            await img.waitFor();
            await page.waitForFunction(() => {
                const i = [...document.querySelectorAll('#messages li.msg.user img.attachment-image')].pop();
                return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth === 16;
            });
            assert.equal(await mine.locator('a.attachment-file').textContent(), 'notes.txt11 B');
            const m = (await apiMessages(tokens.access_token, convId)).filter((x) => x.role === 'user').pop();
            assert.deepEqual(m.attachments.map((a) => [a.filename, a.mime, a.size]), [['dot.png', 'image/png', 90], ['notes.txt', 'text/plain', 11]]);
            /* the text file downloads through a blob: link */
            const [download] = await Promise.all([page.waitForEvent('download'), mine.locator('a.attachment-file').click()]);
            assert.equal(download.suggestedFilename(), 'notes.txt');
            await answerStatus(page, 'completed', 15000);
            await page.screenshot({ path: path.join(TMP, 'app-runs-phone.png') });
        });

        await check('the same conversation at desktop size, reloaded: rows, cards and images from the stored messages', async () => {
            await page.setViewportSize(DESKTOP.viewport);
            await page.reload({ waitUntil: 'load' });
            await page.waitForSelector('#list-view:not([hidden])');
            await page.locator(`#conversations button.conv[data-id="${convId}"]`).click();
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.locator('#messages .tool[data-state="done"]').first().waitFor();
            assert.equal(await page.locator('#messages .tool[data-state="error"]').count(), 1);
            assert.equal(await page.locator('#messages .approval[data-status="approved"]').count(), 2);
            assert.equal(await page.locator('#messages .approval[data-status="denied"]').count(), 1);
            assert.equal(await page.locator('#messages li.msg.assistant[data-status="cancelled"]').count(), 1);
            await page.waitForFunction(() => {
                const i = document.querySelector('#messages img.attachment-image');
                return i && i.src.startsWith('blob:') && i.naturalWidth === 16;
            });
            await page.locator('#messages .approval').first().scrollIntoViewIfNeeded();
            await page.screenshot({ path: path.join(TMP, 'app-runs-desktop.png') });
            await page.emulateMedia({ colorScheme: 'dark' });
            await page.locator('#messages li.msg').last().scrollIntoViewIfNeeded();
            await page.screenshot({ path: path.join(TMP, 'app-runs-desktop-dark.png') });
        });

        await check('no request to another origin, no script error or CSP report', async () => {
            assert.deepEqual(external, []);
            assert.deepEqual(problems, []);
        });
    } finally {
        await browser.close();
    }
}

main(body);
