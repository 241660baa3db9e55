'use strict';
/*
 * The web client's conversation list (web/list.js, web/pickers.js, web/ack.js) in headless Chromium at a phone's size,
 * against the real daemon and the fake upstream (run.sh starts both). Creates ~55 conversations through the API and checks
 * the list pages through them with the API's cursors as it scrolls, each exactly once; one created elsewhere arrives
 * live; search (titles, then message text) pages the same way, clearing it lists them all again; rename, archive /
 * unarchive (the archived view) and delete with the in-page confirm, each checked through the API; a message sent
 * elsewhere shows an unread badge and moves the row up, opening the conversation acks it (badge and the API's count back
 * to 0, also for messages arriving while it is open); a new conversation with a chosen profile, then the conversation's
 * profile and model pickers, checked through the API. Deletes what it created. Screenshots (phone, desktop, dark) go to
 * HL_TMP.
 */
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { env, tap } = require('./tap.js');
const { DESKTOP, launch, pairPage, api } = require('./web_client.js');

const { TMP } = env;
const { check, main } = tap('browser (app conversations)');
const COUNT = 55;
const PROFILE = 'listtest';

async function body() {
    /* a second Hermes profile for the pickers (GET /api/v1/profiles lists the folders under HERMES_HOME/profiles) */
    const profileDir = path.join(TMP, 'hermes', 'profiles', PROFILE);
    fs.mkdirSync(profileDir, { recursive: true });
    const { browser, page, problems, external } = await launch('conversations');
    let cleanup = async () => {};
    try {
        const listRequests = [];
        page.on('request', (r) => {
            const u = new URL(r.url());
            if (/^\/api\/v1\/conversations(\/archived)?(\/search)?$/.test(u.pathname) && r.method() === 'GET') listRequests.push(u);
        });
        let models503 = 0; /* the models of the test's profile, which has no API server: expected */
        page.on('response', (r) => {
            if (r.status() === 503 && new URL(r.url()).pathname === '/api/v1/models') ++models503;
        });
        const tokens = await pairPage(page);
        const call = (method, p, b) => api(tokens.access_token, method, p, b);
        /* every active (or archived) conversation, through the API's cursors */
        async function all(archived = false) {
            const out = [];
            let cursor = null;
            for (let i = 0; i < 20; ++i) {
                const r = await call('GET', `/api/v1/conversations${archived ? '/archived' : ''}?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
                assert.equal(r.status, 200, JSON.stringify(r.body));
                out.push(...r.body.conversations);
                if (!r.body.page.has_more) return out;
                cursor = r.body.page.next_cursor;
            }
            throw new Error('too many pages');
        }
        const find = async (id) => (await all()).find((c) => c.id === id);
        const row = (title) => page.locator('#conversations li.row', { has: page.locator('.title', { hasText: new RegExp(`^${title}$`) }) });
        const shownIds = () => page.$$eval('#conversations li.row', (lis) => lis.map((li) => li.dataset.id));
        const ids = {};
        /* the files after this one find the daemon as this one found it: what it created is deleted at the end */
        const before = new Set((await all()).map((c) => c.id));
        cleanup = async () => {
            const mine = (await all()).map((c) => c.id).concat((await all(true)).map((c) => c.id)).filter((id) => !before.has(id));
            if (mine.length) assert.equal((await call('DELETE', '/api/v1/conversations', { conversation_ids: mine })).status, 200);
        };
        /* polls fn (async, true when done) for up to 5 s */
        async function until(fn, what) {
            const deadline = Date.now() + 5000;
            while (!(await fn())) {
                assert.ok(Date.now() < deadline, `timed out: ${what}`);
                await page.waitForTimeout(100);
            }
        }

        await check(`${COUNT} conversations created through the API are all listed once as the list scrolls (cursor pages)`, async () => {
            for (let i = 0; i < COUNT; i += 11) {
                await Promise.all(
                    Array.from({ length: Math.min(11, COUNT - i) }, async (_, k) => {
                        const n = String(i + k + 1).padStart(2, '0');
                        const title = i + k === 20 ? 'Quokka expedition notes' : `Topic ${n}`;
                        const r = await call('POST', '/api/v1/conversations', { title });
                        assert.equal(r.status, 201, JSON.stringify(r.body));
                        ids[title] = r.body.conversation.id;
                    })
                );
            }
            await page.reload({ waitUntil: 'load' });
            await page.waitForSelector('#list-view:not([hidden])');
            const expected = (await all()).map((c) => c.id);
            assert.ok(expected.length >= COUNT, `the API lists ${expected.length}`);
            listRequests.length = 0;
            await page.locator('#conversations li.row').first().waitFor();
            const first = (await shownIds()).length;
            assert.ok(first < expected.length, `the first page shows ${first} of ${expected.length}`);
            const deadline = Date.now() + 10000;
            while ((await shownIds()).length < expected.length && Date.now() < deadline) {
                await page.$eval('#conversations', (ul) => ul.scrollTo(0, ul.scrollHeight));
                await page.waitForTimeout(100);
            }
            const shown = await shownIds();
            assert.equal(new Set(shown).size, shown.length, 'a conversation listed twice');
            assert.deepEqual([...shown].sort(), [...expected].sort());
            assert.deepEqual(shown, expected, 'newest first, as the API orders them');
            const cursors = listRequests.filter((u) => u.searchParams.get('cursor'));
            assert.ok(cursors.length >= 2, `list requests: ${listRequests.map((u) => u.search)}`);
            for (const u of cursors) assert.ok(expected.includes(u.searchParams.get('cursor')), `cursor ${u.searchParams.get('cursor')}`);
            await page.$eval('#conversations', (ul) => ul.scrollTo(0, 0));
            await page.screenshot({ path: path.join(TMP, 'app-list-phone.png') });
        });

        await check('a conversation created elsewhere arrives at the top while the list is shown', async () => {
            const r = await call('POST', '/api/v1/conversations', { title: 'Live arrival' });
            assert.equal(r.status, 201);
            ids['Live arrival'] = r.body.conversation.id;
            await row('Live arrival').waitFor();
            assert.equal((await shownIds())[0], r.body.conversation.id);
        });

        await check('search finds a title word, with the search route; clearing the box lists them all again', async () => {
            listRequests.length = 0;
            await page.fill('#search', 'quokka');
            await page.waitForFunction(() => document.querySelectorAll('#conversations li.row').length === 1);
            assert.deepEqual(await shownIds(), [ids['Quokka expedition notes']]);
            assert.ok(listRequests.some((u) => u.pathname.endsWith('/search') && u.searchParams.get('query') === 'quokka'));
            /* a search with several pages of results scrolls through them with the search's cursor too */
            const topics = [];
            for (let cursor = null, i = 0; i < 10; ++i) {
                const r = await call('GET', `/api/v1/conversations/search?query=topic&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
                topics.push(...r.body.conversations.map((c) => c.id));
                if (!r.body.page.has_more) break;
                cursor = r.body.page.next_cursor;
            }
            assert.ok(topics.length >= COUNT - 1, `the API finds ${topics.length}`);
            listRequests.length = 0;
            await page.fill('#search', 'topic');
            const deadline = Date.now() + 10000;
            while ((await shownIds()).length < topics.length && Date.now() < deadline) {
                await page.$eval('#conversations', (ul) => ul.scrollTo(0, ul.scrollHeight));
                await page.waitForTimeout(100);
            }
            const shown = await shownIds();
            assert.deepEqual(shown, topics, 'every result once, in the API\'s order');
            assert.ok(listRequests.some((u) => u.pathname.endsWith('/search') && u.searchParams.get('cursor')),
                      `search requests: ${listRequests.map((u) => u.search)}`);
            await page.fill('#search', 'no such thing anywhere');
            await page.locator('#conversations .sentinel', { hasText: 'Nothing found.' }).waitFor();
            await page.fill('#search', '');
            await page.waitForFunction(() => document.querySelectorAll('#conversations li.row').length > 10);
        });

        await check('rename from the row\'s menu: the new title is listed and the API has it', async () => {
            await row('Topic 50').locator('button.more').click();
            await row('Topic 50').locator('button.rename').click();
            await page.fill('#conversations .rename-form input', 'Renamed <b>seven</b>');
            await page.click('#conversations .rename-form button[type="submit"]');
            await row('Renamed <b>seven</b>').waitFor();
            assert.equal(await row('Renamed <b>seven</b>').locator('b').count(), 0, 'a title is text, never markup');
            assert.equal((await find(ids['Topic 50'])).title, 'Renamed <b>seven</b>');
        });

        await check('archive leaves the list, shows in the archived view, unarchive brings it back', async () => {
            await row('Topic 51').locator('button.more').click();
            await row('Topic 51').locator('button.archive').click();
            await row('Topic 51').waitFor({ state: 'detached' });
            assert.ok((await all(true)).some((c) => c.id === ids['Topic 51']), 'archived in the API');
            assert.equal(await find(ids['Topic 51']), undefined);
            await page.click('#show-archived');
            await row('Topic 51').waitFor();
            await row('Topic 51').locator('button.more').click();
            assert.equal(await row('Topic 51').locator('button.rename').count(), 0, 'an archived one cannot be renamed');
            await row('Topic 51').locator('button.archive', { hasText: 'Unarchive' }).click();
            await row('Topic 51').waitFor({ state: 'detached' });
            await page.click('#show-archived');
            await row('Topic 51').waitFor();
            assert.ok(await find(ids['Topic 51']), 'active again in the API');
        });

        await check('delete asks in the page first: "No" keeps it, "Yes" deletes it (API 404)', async () => {
            await row('Topic 52').locator('button.more').click();
            await row('Topic 52').locator('button.delete').click();
            await row('Topic 52').locator('.ask', { hasText: 'Delete?' }).waitFor();
            await page.screenshot({ path: path.join(TMP, 'app-list-confirm-phone.png') });
            await row('Topic 52').locator('button.no').click();
            assert.equal(await row('Topic 52').count(), 1);
            assert.ok(await find(ids['Topic 52']));
            await row('Topic 52').locator('button.more').click();
            await row('Topic 52').locator('button.delete').click();
            await row('Topic 52').locator('button.yes').click();
            await row('Topic 52').waitFor({ state: 'detached' });
            const r = await call('GET', `/api/v1/conversations/${ids['Topic 52']}/messages`);
            assert.equal(r.status, 404);
        });

        await check('a message sent elsewhere shows an unread badge; opening the conversation acks it to 0', async () => {
            const id = ids['Topic 53'];
            const r = await call('POST', `/api/v1/conversations/${id}/messages`, { content: 'Tell me about wombats', client_message_id: 'list-test-1' });
            assert.equal(r.status, 202, JSON.stringify(r.body));
            const badge = row('Topic 53').locator('.badge');
            await badge.waitFor({ state: 'visible' });
            assert.equal((await shownIds())[0], id, 'moved to the top');
            /* the server's own count, which the list settles on */
            await page.waitForFunction(async (cid) => {
                const li = document.querySelector(`#conversations li.row[data-id="${cid}"]`);
                return li && Number(li.dataset.unread) >= 2;
            }, id);
            const before = await find(id);
            assert.ok(before.unread_count >= 2, `API unread ${before.unread_count}`);
            await page.screenshot({ path: path.join(TMP, 'app-list-unread-phone.png') });
            await row('Topic 53').locator('button.conv').click();
            await page.waitForSelector('#conv-view:not([hidden])');
            await page.locator('#messages li.msg.assistant[data-status="completed"]').waitFor({ timeout: 15000 });
            await until(async () => (await find(id)).unread_count === 0, 'acked: the API\'s unread count is 0');
            /* what arrives while it is open is acked too */
            const r2 = await call('POST', `/api/v1/conversations/${id}/messages`, { content: 'And koalas?', client_message_id: 'list-test-2' });
            assert.equal(r2.status, 202, JSON.stringify(r2.body));
            await page.locator('#messages li.msg.assistant[data-status="completed"]').nth(1).waitFor({ timeout: 15000 });
            await until(async () => {
                const c = await find(id);
                return c.unread_count === 0 && c.last_event_seq >= r2.body.last_event_seq;
            }, 'the new messages acked while open');
            await page.click('#back');
            await page.waitForSelector('#list-view:not([hidden])');
            await row('Topic 53').locator('.badge').waitFor({ state: 'hidden' });
            assert.equal(await row('Topic 53').getAttribute('data-unread'), '0');
        });

        await check('search also finds words of the messages', async () => {
            await page.fill('#search', 'wombats');
            await page.waitForFunction(() => document.querySelectorAll('#conversations li.row').length === 1);
            assert.deepEqual(await shownIds(), [ids['Topic 53']]);
            await page.fill('#search', '');
            await page.waitForFunction(() => document.querySelectorAll('#conversations li.row').length > 10);
        });

        await check('pickers: a new conversation gets the chosen profile; its profile and model pickers change it', async () => {
            await page.locator(`#new-profile option[value="${PROFILE}"]`).waitFor({ state: 'attached' });
            await page.selectOption('#new-profile', PROFILE);
            const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/conversations') && r.request().method() === 'POST');
            await page.click('#new-conv');
            const conv = (await (await created).json()).conversation;
            await page.waitForSelector('#conv-view:not([hidden])');
            assert.equal((await find(conv.id)).profile.name, PROFILE);
            await page.locator(`#conv-profile option[value="default"]`).waitFor({ state: 'attached' });
            assert.equal(await page.$eval('#conv-profile', (s) => s.value), PROFILE);
            await page.selectOption('#conv-profile', 'default');
            await until(async () => (await find(conv.id)).profile.name === 'default', 'the profile changed');
            const model = page.locator('#conv-model option:not([value=""])').first();
            await model.waitFor({ state: 'attached' });
            const modelId = await model.getAttribute('value');
            await page.selectOption('#conv-model', modelId);
            await until(async () => (await call('GET', `/api/v1/conversations/${conv.id}/messages`)).body.runtime.model.id === modelId,
                        'the model changed');
            await page.screenshot({ path: path.join(TMP, 'app-conv-pickers-phone.png') });
            await page.click('#back');
            await page.waitForSelector('#list-view:not([hidden])');
        });

        await check('desktop: the list and a conversation at 1280x800', async () => {
            /* the same page at a desktop's size (a second Chromium would cost the file ~8 s) */
            await page.setViewportSize(DESKTOP.viewport);
            await page.locator('#conversations li.row').nth(10).waitFor();
            await page.locator('#conversations li.row button.more').nth(1).click();
            await page.locator('#conversations .actions:not([hidden]) button.delete').waitFor();
            await page.screenshot({ path: path.join(TMP, 'app-list-desktop.png') });
            await page.locator('#conversations li.row button.conv').first().click();
            await page.locator('#conv-model').waitFor();
            await page.screenshot({ path: path.join(TMP, 'app-conv-desktop.png') });
            await page.click('#back');
            await page.emulateMedia({ colorScheme: 'dark' });
            await page.locator('#conversations li.row').nth(10).waitFor();
            await page.screenshot({ path: path.join(TMP, 'app-list-desktop-dark.png') });
            await page.emulateMedia({ colorScheme: 'light' });
        });

        await check('no request to another origin; no script errors or CSP reports', async () => {
            assert.deepEqual(external, []);
            const unavailable = problems.filter((p) => /status of 503/.test(p));
            assert.ok(unavailable.length <= models503, `503s: ${unavailable.length}, of the models route: ${models503}`);
            assert.deepEqual(problems.filter((p) => !/status of 503/.test(p)), []);
        });
        await check('clean up: the conversations this file created are deleted', () => cleanup());
    } finally {
        await browser.close();
        fs.rmSync(profileDir, { recursive: true, force: true });
    }
}

main(body);
