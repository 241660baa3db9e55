// Safe Markdown for messages (the agent's output is untrusted). It builds DOM nodes only, never parses HTML, so raw HTML
// in the source stays literal text. Supported: paragraphs (a newline is a line break), # headings, ``` / ~~~ fenced code
// (language label, copy button), blockquotes, bullet and ordered lists nested by indentation, rules, simple GFM tables,
// `code`, ** __ * _ emphasis, ~~strike~~, [text](url), <url> and bare http(s) URLs. Only absolute http:, https: and
// mailto: URLs (checked with new URL(), no base) become links (target=_blank, rel=noopener noreferrer nofollow); any other
// link stays its literal source text. Nothing is ever loaded: ![alt](url) is a plain link to url. Every scan is linear
// (lookup tables, no backtracking regexes) and nesting is capped.

const MAX_BLOCK_DEPTH = 10; // blockquotes and lists deeper than this are shown as plain paragraphs
const MAX_INLINE_DEPTH = 20; // emphasis nested deeper stays literal
const MAX_COLUMNS = 32;
const ESCAPABLE = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCT = /[\p{P}\p{S}]/u;
const SPACE = /\s/;
const isSpace = (c) => c <= ' ' || (c > '~' && SPACE.test(c));
const isPunct = (c) => (c <= '~' ? ESCAPABLE.includes(c) : PUNCT.test(c));
const WORD = /[\p{L}\p{N}_]/u;

const el = (tag, cls) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
};

// The href for raw when it is an absolute http(s) URL with a host or a mailto: URL; otherwise null.
export function safeHref(raw) {
  let u;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (u.protocol === 'mailto:') return u.href;
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname ? u.href : null;
}

// Renders text as Markdown: a DocumentFragment of plain DOM nodes (no HTML is ever parsed).
export function renderMarkdown(text) {
  const frag = document.createDocumentFragment();
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n').map(expandTabs);
  blocks(lines, frag, 0);
  return frag;
}

// ---- blocks ----

function expandTabs(line) {
  if (!line.startsWith('\t') && !line.startsWith(' \t') && !line.startsWith('  \t') && !line.startsWith('   \t')) return line;
  let col = 0, i = 0;
  for (; i < line.length; i++) {
    if (line[i] === ' ') col++;
    else if (line[i] === '\t') col += 4 - (col % 4);
    else break;
  }
  return ' '.repeat(col) + line.slice(i);
}

function indent(line) {
  let i = 0;
  while (line[i] === ' ') i++;
  return i;
}

const blank = (line) => line.trim() === '';

function fenceOpen(line) {
  const sp = indent(line);
  const c = line[sp];
  if (sp > 3 || (c !== '`' && c !== '~')) return null;
  let n = sp;
  while (line[n] === c) n++;
  const info = line.slice(n).trim();
  if (n - sp < 3 || (c === '`' && info.includes('`'))) return null;
  return { c, len: n - sp, sp, lang: info.split(/\s/, 1)[0].slice(0, 32) };
}

function fenceClose(line, f) {
  const sp = indent(line);
  let n = sp;
  while (line[n] === f.c) n++;
  return sp <= 3 && n - sp >= f.len && blank(line.slice(n));
}

function heading(line) {
  const sp = indent(line);
  let n = sp;
  while (line[n] === '#') n++;
  const level = n - sp;
  if (sp > 3 || level < 1 || level > 6 || (n < line.length && line[n] !== ' ')) return null;
  let t = line.slice(n).trim();
  let e = t.length;
  while (e > 0 && t[e - 1] === '#') e--;
  if (e === 0) t = '';
  else if (e < t.length && t[e - 1] === ' ') t = t.slice(0, e).trim();
  return { level, text: t };
}

function isRule(line) {
  if (indent(line) > 3) return false;
  const t = line.trim();
  const c = t[0];
  if (c !== '-' && c !== '*' && c !== '_') return false;
  let n = 0;
  for (const ch of t) {
    if (ch === c) n++;
    else if (ch !== ' ' && ch !== '\t') return false;
  }
  return n >= 3;
}

function quoted(line) {
  const sp = indent(line);
  if (sp > 3 || line[sp] !== '>') return null;
  return line.slice(sp + (line[sp + 1] === ' ' ? 2 : 1));
}

function listItem(line) {
  const sp = indent(line);
  let i = sp, ordered = false, num = 1;
  const c = line[i];
  if (c === '-' || c === '*' || c === '+') i++;
  else {
    while (i - sp < 9 && line[i] >= '0' && line[i] <= '9') i++;
    if (i === sp || (line[i] !== '.' && line[i] !== ')')) return null;
    ordered = true;
    num = parseInt(line.slice(sp, i), 10);
    i++;
  }
  if (i < line.length && line[i] !== ' ') return null;
  let w = 0;
  while (line[i + w] === ' ') w++;
  const empty = i + w >= line.length;
  return { sp, ordered, num, delim: line[i - 1], empty, content: empty || w > 4 ? i + 1 : i + w };
}

function splitRow(line) {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  if (t.endsWith('|') && !t.endsWith('\\|')) t = t.slice(0, -1);
  const cells = [];
  let start = 0;
  for (let i = 0; i < t.length && cells.length < MAX_COLUMNS; i++) {
    if (t[i] === '\\') i++;
    else if (t[i] === '|') {
      cells.push(t.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (cells.length < MAX_COLUMNS) cells.push(t.slice(start).trim());
  return cells;
}

function tableStart(lines, i) {
  if (i + 1 >= lines.length || !lines[i].includes('|') || !lines[i + 1].includes('-') || indent(lines[i]) > 3) return null;
  const aligns = [];
  for (const c of splitRow(lines[i + 1])) {
    if (!/^:?-+:?$/.test(c)) return null;
    aligns.push(c.endsWith(':') ? (c.startsWith(':') ? 'md-center' : 'md-right') : '');
  }
  const head = splitRow(lines[i]);
  return head.length === aligns.length ? { head, aligns } : null;
}

// Whether line k ends a paragraph (a blank line or the start of another block).
function interrupts(lines, k) {
  const line = lines[k];
  if (blank(line) || fenceOpen(line) || heading(line) || isRule(line) || quoted(line) !== null) return true;
  const m = listItem(line);
  return (m && !m.empty && (!m.ordered || m.num === 1)) || !!tableStart(lines, k);
}

function blocks(lines, parent, depth) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let f, h, m, t;
    if (blank(line)) i++;
    else if ((f = fenceOpen(line))) i = codeBlock(lines, i, f, parent);
    else if ((h = heading(line))) {
      const e = el('h' + h.level);
      inline(h.text, e);
      parent.append(e);
      i++;
    } else if (isRule(line)) {
      parent.append(el('hr'));
      i++;
    } else if (depth < MAX_BLOCK_DEPTH && quoted(line) !== null) i = quote(lines, i, parent, depth);
    else if (depth < MAX_BLOCK_DEPTH && (m = listItem(line))) i = list(lines, i, m, parent, depth);
    else if ((t = tableStart(lines, i))) i = table(lines, i, t, parent);
    else i = paragraph(lines, i, parent);
  }
}

function paragraph(lines, i, parent) {
  const start = i++;
  while (i < lines.length && !interrupts(lines, i)) i++;
  const p = el('p');
  inline(lines.slice(start, i).map((l) => l.trim()).join('\n'), p);
  parent.append(p);
  return i;
}

function codeBlock(lines, i, f, parent) {
  const body = [];
  for (i++; i < lines.length && !fenceClose(lines[i], f); i++) body.push(lines[i].slice(Math.min(indent(lines[i]), f.sp)));
  const box = el('div', 'md-code');
  const bar = el('div', 'md-code-bar');
  const lang = el('span', 'md-lang');
  lang.textContent = f.lang;
  const copy = el('button', 'md-copy');
  copy.type = 'button';
  copy.textContent = 'Copy';
  const pre = el('pre');
  const code = el('code');
  code.textContent = body.join('\n');
  copy.addEventListener('click', () => copyCode(code, copy));
  bar.append(lang, copy);
  pre.append(code);
  box.append(bar, pre);
  parent.append(box);
  return i + 1;
}

// Copies the code to the clipboard where the page may (a secure context); otherwise selects it for the user to copy.
function copyCode(code, button) {
  const select = () => {
    const r = document.createRange();
    r.selectNodeContents(code);
    getSelection().removeAllRanges();
    getSelection().addRange(r);
  };
  if (!navigator.clipboard) return select();
  navigator.clipboard.writeText(code.textContent).then(() => {
    button.textContent = 'Copied';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  }, select);
}

function quote(lines, i, parent, depth) {
  const inner = [];
  for (; i < lines.length; i++) {
    const q = quoted(lines[i]);
    if (q !== null) inner.push(q);
    else if (!blank(lines[i]) && !blank(inner[inner.length - 1]) && !interrupts(lines, i)) inner.push(lines[i]); // lazy line
    else break;
  }
  const bq = el('blockquote');
  blocks(inner, bq, depth + 1);
  parent.append(bq);
  return i;
}

function list(lines, i, first, parent, depth) {
  const items = [];
  let loose = false, m = first, k;
  for (;;) {
    const body = [lines[i].slice(m.content)];
    for (k = i + 1; k < lines.length; ) {
      const l = lines[k];
      if (blank(l)) {
        let j = k + 1;
        while (j < lines.length && blank(lines[j])) j++;
        if (j >= lines.length || indent(lines[j]) < m.content) break;
        for (; k < j; k++) body.push('');
        loose = true;
        continue;
      }
      const ind = indent(l);
      if (ind >= m.content) body.push(l.slice(m.content));
      else if (listItem(l)) {
        if (ind <= m.sp) break;
        body.push(l.slice(ind)); // a nested item indented less than this item's text: still nested
      } else if (!blank(body[body.length - 1]) && !interrupts(lines, k)) body.push(l.trim()); // lazy line
      else break;
      k++;
    }
    items.push(body);
    let j = k;
    while (j < lines.length && blank(lines[j])) j++;
    const next = j < lines.length && !isRule(lines[j]) ? listItem(lines[j]) : null;
    if (!next || next.ordered !== first.ordered || next.delim !== first.delim || next.sp >= m.content) break;
    if (j > k) loose = true;
    i = j;
    m = next;
  }
  const L = el(first.ordered ? 'ol' : 'ul');
  if (first.ordered && first.num !== 1) L.start = first.num;
  for (const body of items) {
    const li = el('li');
    blocks(body, li, depth + 1);
    if (!loose) for (const p of [...li.children]) if (p.localName === 'p') p.replaceWith(...p.childNodes);
    L.append(li);
  }
  parent.append(L);
  return k;
}

function table(lines, i, t, parent) {
  const row = (cells, tag) => {
    const tr = el('tr');
    for (let c = 0; c < cells.length && c < t.head.length; c++) {
      const cell = el(tag, t.aligns[c]);
      inline(cells[c], cell);
      tr.append(cell);
    }
    return tr;
  };
  const head = el('thead');
  head.append(row(t.head, 'th'));
  const body = el('tbody');
  for (i += 2; i < lines.length && !blank(lines[i]) && !fenceOpen(lines[i]) && !heading(lines[i]) && quoted(lines[i]) === null; i++)
    body.append(row(splitRow(lines[i]), 'td'));
  const tab = el('table');
  tab.append(head, body);
  const wrap = el('div', 'md-table');
  wrap.append(tab);
  parent.append(wrap);
  return i;
}

// ---- inline ----

// Lookup tables over one paragraph's text so every scan below is O(1) or O(log n): bracket pairs, the next stop
// (whitespace or '<'), ')' and '>' at or after each index, a running count of '(' and the backtick runs by length.
function prepare(s) {
  const n = s.length;
  const pair = new Int32Array(n).fill(-1);
  const open = [];
  for (let i = 0; i < n; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '[') open.push(i);
    else if (c === ']' && open.length) pair[open.pop()] = i;
  }
  const stop = new Int32Array(n + 2).fill(n), close = new Int32Array(n + 2).fill(n), gt = new Int32Array(n + 2).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    stop[i] = c <= 32 || c === 60 ? i : stop[i + 1];
    close[i] = c === 41 ? i : close[i + 1];
    gt[i] = c === 62 ? i : gt[i + 1];
  }
  const parens = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) parens[i + 1] = parens[i] + (s[i] === '(' ? 1 : 0);
  const ticks = new Map();
  for (let i = 0; i < n; ) {
    if (s[i] !== '`') {
      i++;
      continue;
    }
    let j = i;
    while (s[j] === '`') j++;
    if (!ticks.has(j - i)) ticks.set(j - i, []);
    ticks.get(j - i).push(i);
    i = j;
  }
  return { s, pair, stop, close, gt, parens, ticks };
}

function inline(text, parent) {
  render(prepare(text), 0, text.length, parent, false);
}

function render(ctx, start, end, parent, inLink) {
  const tokens = scan(ctx, start, end, inLink);
  emphasis(tokens);
  build(tokens, parent);
}

// First index of sorted arr whose value is >= x (arr.length when none).
function lowerBound(arr, x) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function link(href) {
  const a = el('a');
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  return a;
}

// The end (index of the closing ')') of a link destination starting at p, or -1: no whitespace inside, parentheses
// balanced a few levels deep.
function destination(ctx, p, end) {
  const { stop, close, parens } = ctx;
  let e = close[p];
  for (let closes = 0; closes < 8 && e < end && parens[e] - parens[p] > closes; closes++) e = close[e + 1];
  return e > p && e < end && stop[p] > e ? e : -1;
}

const unescape = (s) => s.replace(/\\([!-/:-@[-`{-~])/g, '$1');

// Splits s[start, end) into tokens: strings (text), DOM nodes (code, links, line breaks) and delimiter runs (objects
// with ch) for emphasis().
function scan(ctx, start, end, inLink) {
  const s = ctx.s, out = [];
  let i = start, t = start; // t: where the pending text starts
  const flush = (to) => {
    if (to > t) out.push(s.slice(t, to));
  };
  while (i < end) {
    const c = s[i];
    if (c === '\\' && i + 1 < end) {
      if (s[i + 1] === '\n') {
        flush(i);
        out.push(el('br'));
        t = i += 2;
      } else if (ESCAPABLE.includes(s[i + 1])) {
        flush(i);
        t = i + 1;
        i += 2;
      } else i++;
    } else if (c === '\n') {
      flush(i);
      out.push(el('br'));
      t = ++i;
    } else if (c === '`') {
      let j = i;
      while (j < end && s[j] === '`') j++;
      const runs = ctx.ticks.get(j - i);
      const k = runs ? runs[lowerBound(runs, j)] : undefined;
      if (k !== undefined && k + (j - i) <= end) {
        flush(i);
        let code = s.slice(j, k).replace(/\n/g, ' ');
        if (code.length > 2 && code[0] === ' ' && code[code.length - 1] === ' ' && code.trim()) code = code.slice(1, -1);
        const e = el('code');
        e.textContent = code;
        out.push(e);
        t = i = k + (j - i);
      } else i = j;
    } else if (c === '*' || c === '_' || c === '~') {
      let j = i;
      while (j < end && s[j] === c) j++;
      const before = i > start ? s[i - 1] : ' ', after = j < end ? s[j] : ' ';
      const bs = isSpace(before), as = isSpace(after), bp = isPunct(before), ap = isPunct(after);
      const left = !as && (!ap || bs || bp), right = !bs && (!bp || as || ap);
      const canOpen = c === '_' ? left && (!right || bp) : left;
      const canClose = c === '_' ? right && (!left || ap) : right;
      if ((canOpen || canClose) && (c !== '~' || j - i === 2)) {
        flush(i);
        out.push({ ch: c, n: j - i, orig: j - i, canOpen, canClose, opens: null, closes: null, pos: out.length });
        t = j;
      }
      i = j;
    } else if (!inLink && (c === '[' || (c === '!' && s[i + 1] === '[' && i + 1 < end))) {
      const b = c === '[' ? i : i + 1;
      const j = ctx.pair[b];
      const e = j > b && j + 2 < end && s[j + 1] === '(' ? destination(ctx, j + 2, end) : -1;
      if (e < 0) {
        i = b + 1;
        continue;
      }
      flush(i);
      const href = safeHref(unescape(s.slice(j + 2, e)));
      if (!href) out.push(s.slice(i, e + 1)); // not a safe link: its source text, inert
      else {
        const a = link(href);
        if (c === '!') a.append(s.slice(b + 1, j) || href); // an image: never loaded, a link to it
        else render(ctx, b + 1, j, a, true);
        out.push(a);
      }
      t = i = e + 1;
    } else if (!inLink && c === '<' && (s.startsWith('http', i + 1) || s.startsWith('mailto:', i + 1))) {
      const g = ctx.gt[i];
      const href = g < end && g < ctx.stop[i + 1] ? safeHref(s.slice(i + 1, g)) : null;
      if (href) {
        flush(i);
        const a = link(href);
        a.textContent = s.slice(i + 1, g);
        out.push(a);
        t = i = g + 1;
      } else i++;
    } else if (!inLink && c === 'h' && (s.startsWith('http://', i) || s.startsWith('https://', i)) && !(i > start && WORD.test(s[i - 1]))) {
      let e = Math.min(ctx.stop[i], end);
      while (e > i && '.,:;!?"\'*_~]'.includes(s[e - 1])) e--;
      let bal = ctx.parens[e] - ctx.parens[i];
      for (let k = i; k < e; k++) if (s[k] === ')') bal--;
      while (bal < 0 && s[e - 1] === ')') e--, bal++;
      const href = safeHref(s.slice(i, e));
      if (href) {
        flush(i);
        const a = link(href);
        a.textContent = s.slice(i, e);
        out.push(a);
        t = i = e;
      } else i = Math.max(e, i + 1); // not a URL: all of it stays text (so the scan stays linear)
    } else i++;
  }
  flush(end);
  return out;
}

// Pairs delimiter runs into em / strong / del (CommonMark's delimiter algorithm with its "openers bottom" so it stays
// linear): a match is recorded on the opener (opens) and the closer (closes); runs between them stay literal.
function emphasis(tokens) {
  let prev = null, closer = null;
  for (const d of tokens) {
    if (!d.ch) continue;
    d.prev = prev;
    if (prev) prev.next = d;
    else closer = d;
    prev = d;
  }
  const unlink = (d) => {
    if (d.prev) d.prev.next = d.next;
    if (d.next) d.next.prev = d.prev;
  };
  const floor = new Map();
  while (closer) {
    if (!closer.canClose) {
      closer = closer.next;
      continue;
    }
    const key = closer.ch + (closer.canOpen ? 1 : 0) + (closer.orig % 3);
    const bottom = floor.get(key) ?? -1;
    let o = closer.prev;
    for (; o && o.pos > bottom; o = o.prev) {
      const odd = (o.canClose || closer.canOpen) && (o.orig + closer.orig) % 3 === 0 && (o.orig % 3 || closer.orig % 3);
      if (o.ch === closer.ch && o.canOpen && !odd) break;
    }
    if (o && o.pos > bottom) {
      const use = o.n >= 2 && closer.n >= 2 ? 2 : 1;
      const m = { tag: closer.ch === '~' ? 'del' : use === 2 ? 'strong' : 'em', text: closer.ch.repeat(use), el: null };
      (o.opens ??= []).push(m);
      (closer.closes ??= []).push(m);
      o.n -= use;
      closer.n -= use;
      o.next = closer;
      closer.prev = o;
      if (!o.n) unlink(o);
      if (!closer.n) {
        unlink(closer);
        closer = closer.next;
      }
    } else {
      floor.set(key, closer.pos - 1);
      const next = closer.next;
      if (!closer.canOpen) unlink(closer);
      closer = next;
    }
  }
}

function build(tokens, parent) {
  const stack = [parent];
  let top = parent;
  for (const t of tokens) {
    if (typeof t === 'string' || !t.ch) {
      top.append(t);
      continue;
    }
    for (const m of t.closes || []) {
      const k = m.el ? stack.lastIndexOf(m.el) : -1;
      if (k > 0) {
        stack.length = k;
        top = stack[k - 1];
      } else top.append(m.text);
    }
    if (t.n) top.append(t.ch.repeat(t.n));
    for (let k = t.opens ? t.opens.length - 1 : -1; k >= 0; k--) {
      const m = t.opens[k];
      if (stack.length > MAX_INLINE_DEPTH) top.append(m.text);
      else {
        m.el = el(m.tag);
        top.append(m.el);
        stack.push(m.el);
        top = m.el;
      }
    }
  }
}
