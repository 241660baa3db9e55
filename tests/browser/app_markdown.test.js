'use strict';
/*
 * Safe Markdown in the web client (web/markdown.js), in headless Chromium against the real daemon and the fake upstream
 * (run.sh starts both). Pairs a page, opens a conversation, then renders a table of cases in the page with
 * renderMarkdown() and compares a structural summary (code blocks keep their text exactly, lists nest, headings,
 * emphasis, http/https/mailto links) and checks that hostile input (javascript:/data:/vbscript:/relative links, raw HTML,
 * ![images]) yields no live element: every element and attribute the renderer makes is from a small allowlist, every
 * href is http(s)/mailto. A 200 KB hostile input renders (its time printed). End to end: a user message with Markdown,
 * a javascript: link and <img onerror> is shown through the same renderer, and the fake's answer, chosen with
 * [[fake:stream;text=…]], streams in and renders its Markdown with its javascript: link inert; no dialog, no request to
 * another origin. Saves phone and desktop screenshots in HL_TMP. Exits 0 only when every check passed.
 */
const assert = require('node:assert/strict');
const path = require('node:path');
const { env, tap } = require('./tap.js');
const { launch, pairPage, api, watchAnswers } = require('./web_client.js');

const { TMP } = env;
const { check, main } = tap('browser (markdown)');

/* [markdown, expected summary]: summary() below writes elements as tag(children), text as "…", links as a[href], a code
 * block as code[lang]("…") */
const CASES = [
    ['plain *em* **strong** __strong__ _em_ ~~del~~ `a <b> *c*`',
     'p("plain ",em("em")," ",strong("strong")," ",strong("strong")," ",em("em")," ",del("del")," ",code("a <b> *c*"))'],
    ['# One\n## Two ##\n###### Six\n####### seven', 'h1("One"),h2("Two"),h6("Six"),p("####### seven")'],
    ['```js\nconst s = "<b>**x**</b>";\n  [a](javascript:alert(1))\n```\nafter',
     'code[js]("const s = \\"<b>**x**</b>\\";\\n  [a](javascript:alert(1))"),p("after")'],
    ['~~~\n<script>alert(1)</script>\n~~~', 'code[]("<script>alert(1)</script>")'],
    ['- a\n- b\n  - c\n  - d\n- e', 'ul(li("a"),li("b",ul(li("c"),li("d"))),li("e"))'],
    ['1. one\n2. two\n   - sub\n3. three', 'ol(li("one"),li("two",ul(li("sub"))),li("three"))'],
    ['> quoted *x*\n\n---\nline one\nline two', 'blockquote(p("quoted ",em("x"))),hr,p("line one",br,"line two")'],
    ['| a | b |\n|---|--:|\n| 1 | 2 |', 'table(thead(tr(th("a"),th("b"))),tbody(tr(td("1"),td("2"))))'],
    ['[h](http://example.com/x) [s](https://example.com/y?q=1) [m](mailto:someone@example.com)',
     'p(a[http://example.com/x]("h")," ",a[https://example.com/y?q=1]("s")," ",a[mailto:someone@example.com]("m"))'],
    ['see https://example.com/a_(b). and <https://example.org/>', 'p("see ",a[https://example.com/a_(b)]("https://example.com/a_(b)"),". and ",a[https://example.org/]("https://example.org/"))'],
    ['[x](javascript:alert(1))', 'p("[x](javascript:alert(1))")'],
    ['[x](JaVaScRiPt:alert(1))', 'p("[x](JaVaScRiPt:alert(1))")'],
    ['[x](java\tscript:alert(1))', 'p("[x](java\\tscript:alert(1))")'],
    ['[x](java&#09;script:alert(1)) [y](javascript&colon;alert(1))', 'p("[x](java&#09;script:alert(1))"," ","[y](javascript&colon;alert(1))")'],
    ['[x](data:text/html,hi) [y](vbscript:msgbox(1)) [z](/api/v1/conversations) [w](//evil.example/) [v](x.html)',
     'p("[x](data:text/html,hi)"," ","[y](vbscript:msgbox(1))"," ","[z](/api/v1/conversations)"," ","[w](//evil.example/)"," ","[v](x.html)")'],
    ['<img src=x onerror=alert(1)> <script>alert(1)</script> <a href="javascript:alert(1)">x</a>',
     'p("<img src=x onerror=alert(1)> <script>alert(1)</script> <a href=\\"javascript:alert(1)\\">x</a>")'],
    ['![x](http://example.com/a.png)', 'p(a[http://example.com/a.png]("x"))'],
    ['\\*not em\\* \\[not a link\\](http://example.com)', 'p("*not em","* ","[not a link","](",a[http://example.com/]("http://example.com"),")")'],
];
const UNSAFE = ['javascript:', 'data:', 'vbscript:', '/api/v1/', 'evil.example', 'x.html'];

/* A 200 KB hostile input: nested brackets, asterisks, backticks, half links and autolinks, deep quotes and lists. */
function hostile() {
    let s = '';
    for (let k = 0; s.length < 200 * 1024; k++) {
        s += '['.repeat(k % 7) + '*'.repeat(k % 5) + '`'.repeat(k % 4) + '_x~~' + '](javascript:'.repeat(k % 3) + '<http://a';
        s += k % 13 === 0 ? '\n' + '> '.repeat(k % 40) + ' '.repeat(k % 30) + '- ' : ' ';
    }
    return s;
}

/* Runs in the page: renders each text with markdown.js into a node attached to the document and returns the summaries
 * and every element / attribute / href the renderer made. */
async function renderInPage(texts) {
    const md = await import('/app/markdown.js');
    const summary = (n) => {
        if (n.nodeType === Node.TEXT_NODE) return JSON.stringify(n.data);
        if (n.classList.contains('md-code'))
            return `code[${n.querySelector('.md-lang').textContent}](${JSON.stringify(n.querySelector('pre > code').textContent)})`;
        if (n.classList.contains('md-table')) return [...n.childNodes].map(summary).join(',');
        let t = n.localName;
        if (t === 'a') t += `[${n.getAttribute('href')}]`;
        const kids = [...n.childNodes].map(summary).join(',');
        return kids ? `${t}(${kids})` : t;
    };
    const host = document.createElement('div');
    document.body.append(host);
    const results = [];
    for (const text of texts) {
        const box = document.createElement('div');
        const t0 = performance.now();
        box.append(md.renderMarkdown(text));
        const ms = performance.now() - t0;
        host.append(box);
        const tags = new Set(), attrs = new Set(), hrefs = [], rels = new Set();
        for (const e of box.querySelectorAll('*')) {
            tags.add(e.localName);
            for (const a of e.attributes) attrs.add(a.name);
            if (e.localName === 'a') {
                hrefs.push(e.getAttribute('href'));
                rels.add(`${e.getAttribute('target')} ${e.getAttribute('rel')}`);
            }
        }
        results.push({
            summary: text.length < 1000 ? [...box.childNodes].map(summary).join(',') : null,
            length: text.length, ms, tags: [...tags], attrs: [...attrs], hrefs, rels: [...rels], elements: box.querySelectorAll('*').length,
        });
    }
    host.remove();
    return results;
}

const TAGS = new Set(['p', 'br', 'em', 'strong', 'del', 'code', 'pre', 'div', 'span', 'button', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'ul', 'ol', 'li', 'blockquote', 'hr', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);
const ATTRS = new Set(['class', 'href', 'target', 'rel', 'type', 'start']);

/* The invariants every rendering must keep, whatever the input. */
function assertInert(r, what) {
    for (const t of r.tags) assert.ok(TAGS.has(t), `${what}: element <${t}>`);
    for (const a of r.attrs) assert.ok(ATTRS.has(a), `${what}: attribute ${a}`);
    for (const h of r.hrefs) {
        assert.match(h, /^(https?:\/\/[^/]|mailto:)/, `${what}: href ${h}`);
        for (const u of UNSAFE) assert.ok(!h.includes(u), `${what}: href ${h}`);
    }
    for (const rel of r.rels) assert.equal(rel, '_blank noopener noreferrer nofollow', what);
}

async function body() {
    const { browser, page, problems, external } = await launch('markdown');
    try {
        const dialogs = [];
        page.on('dialog', (d) => {
            dialogs.push(d.message());
            d.dismiss().catch(() => {});
        });

        let token = null, conversation = null;
        await check('the page pairs and a new conversation opens', async () => {
            token = (await pairPage(page)).access_token;
            const created = page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/conversations$/.test(r.url()));
            await page.click('#new-conv');
            await page.waitForSelector('#conv-view:not([hidden])');
            conversation = (await (await created).json()).conversation;
            assert.ok(conversation && conversation.id, JSON.stringify(conversation));
        });

        await check('renderMarkdown: code blocks, lists, nesting, headings, emphasis, tables and links as expected', async () => {
            const results = await page.evaluate(renderInPage, CASES.map(([text]) => text));
            CASES.forEach(([text, want], k) => {
                assert.equal(results[k].summary, want, `for ${JSON.stringify(text)}`);
                assertInert(results[k], JSON.stringify(text));
            });
        });

        await check('hostile links, raw HTML and images stay inert text: no <a> with a bad href, no <img>, no <script>', async () => {
            const evil = CASES.filter(([text]) => /javascript|script|data:|vbscript|\/api|evil|x\.html|!\[/i.test(text)).map(([t]) => t);
            assert.ok(evil.length >= 8);
            const results = await page.evaluate(renderInPage, evil);
            results.forEach((r, k) => {
                assertInert(r, evil[k]);
                assert.ok(!r.tags.includes('img') && !r.tags.includes('script'), evil[k]);
            });
        });

        await check('a 200 KB hostile input renders, inert', async () => {
            const [r] = await page.evaluate(renderInPage, [hostile()]);
            assert.ok(r.length >= 200 * 1024 && r.elements > 100, JSON.stringify(r).slice(0, 300));
            assertInert(r, 'the 200 KB input');
            console.log(`# 200 KB hostile input: ${r.ms.toFixed(0)} ms, ${r.elements} elements`);
        });

        const ANSWER = [
            'Answer with **Markdown**:',
            '',
            '```sh',
            'ls -la <dir> && echo "*done*"',
            `tar -czf backup.tar.gz ${'--exclude=node_modules/ '.repeat(6)}.`,
            '```',
            '',
            '1. first',
            '2. second',
            '   - nested',
            '',
            '[bad](javascript:alert(1)) and [good](https://example.com/ok) <img src=x onerror=alert(1)>',
        ].join('\n');

        await check('end to end: the user message and the streamed answer render Markdown, their hostile parts inert', async () => {
            await watchAnswers(page);
            const mine = [
                'Please format this:',
                '```py',
                'print("<b>hi</b>")',
                '```',
                '- one',
                '- two',
                '',
                '[click](javascript:alert(1)) <img src=x onerror=alert(1)>',
                `[[fake:stream;deltas=7;gap_ms=60;text=${encodeURIComponent(ANSWER)}]]`,
            ].join('\n');
            await page.fill('#input', mine);
            await page.click('#send');
            const user = page.locator('#messages li.msg.user');
            await user.locator('pre > code').first().waitFor();
            assert.equal(await user.locator('pre > code').first().textContent(), 'print("<b>hi</b>")');
            assert.deepEqual(await user.locator('ul > li').allTextContents(), ['one', 'two']);
            assert.match(await user.textContent(), /\[click\]\(javascript:alert\(1\)\) <img src=x onerror=alert\(1\)>/);

            const answer = page.locator('#messages li.msg.assistant[data-status="completed"]');
            await answer.first().waitFor({ timeout: 20000 });
            assert.equal(await answer.locator('pre > code').textContent(), ANSWER.split('\n').slice(3, 5).join('\n'));
            assert.equal(await answer.locator('.md-lang').textContent(), 'sh');
            assert.deepEqual(await answer.locator('ol > li > ul > li').allTextContents(), ['nested']);
            assert.equal(await answer.locator('ol > li').count(), 2);
            assert.equal(await answer.locator('p strong').textContent(), 'Markdown');
            assert.deepEqual(await answer.locator('a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.target, a.rel])),
                [['https://example.com/ok', '_blank', 'noopener noreferrer nofollow']]);
            assert.match(await answer.textContent(), /\[bad\]\(javascript:alert\(1\)\) and good <img src=x onerror=alert\(1\)>/);

            assert.equal(await page.locator('#messages img, #messages script, #messages iframe').count(), 0);
            assert.equal(await page.locator('#messages a[href^="javascript:" i], #messages a:not([href^="http"]):not([href^="mailto:"])').count(), 0);
            const seen = await page.evaluate(() => window.__seen);
            assert.ok(seen.some((s) => /^streaming:[1-9]/.test(s)), `the answer never showed partial text: ${seen.slice(0, 20)}`);
            await page.locator('#messages li.msg.assistant pre').first().scrollIntoViewIfNeeded();
            const fit = await answer.evaluate((li) => {
                const pre = li.querySelector('pre');
                return { scrolls: pre.scrollWidth > pre.clientWidth, right: li.getBoundingClientRect().right, width: innerWidth };
            });
            assert.ok(fit.scrolls && fit.right <= fit.width, `a long code line scrolls inside the bubble at phone size: ${JSON.stringify(fit)}`);
            await page.screenshot({ path: path.join(TMP, 'app-markdown-phone.png') });
            await page.setViewportSize({ width: 1280, height: 800 });
            await page.screenshot({ path: path.join(TMP, 'app-markdown-desktop.png') });
        });

        await check('no dialog, no request to another origin, no page errors or CSP reports', async () => {
            assert.deepEqual(dialogs, []);
            assert.deepEqual(external, []);
            assert.deepEqual(problems, []);
        });

        await check('the test\'s conversation is deleted (the tests after this one see only theirs)', async () => {
            const r = await api(token, 'DELETE', `/api/v1/conversations/${encodeURIComponent(conversation.id)}`);
            assert.equal(r.status, 200, JSON.stringify(r.body));
        });
    } finally {
        await browser.close();
    }
}

main(body);
