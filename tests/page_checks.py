"""What a reader of a Chinese course's page must never meet, checked in a real browser.

:data:`CHECK_JS` runs in the page and returns, for the viewport it is in:

* ``english``: words of two or more Latin letters in visible text, outside
  code and data — ``<code>``/``<pre>``, the trainee's own answers
  (``.answer``), tables of data (pandas ``table.dataframe``), names of
  files and accounts (``.casekit-data``) — except
  :data:`ALLOWED_WORDS`;
* ``narrow_cells``: visible table cells narrower than two characters of
  their own font;
* ``small_charts``: visible chart images (``img``) narrower than 340 px;
* ``page_overflow``: how far the page is wider than the viewport (a table
  must scroll inside its own box, not make the page scroll sideways).
"""

from __future__ import annotations

#: Latin words a Chinese page may show, each for a reason.
ALLOWED_WORDS = {
    # the tool's name in the footer of every page ("由 casekit 生成"): a proper noun
    "casekit",
    # the name of the library the green unit teaches, in the sample's titles ("用 pandas 读懂…"):
    # a proper noun, which a translation would only make harder to look up
    "pandas",
}

CHECK_JS = """(allowed) => {
  const skip = el => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const tag = e.tagName;
      if (tag === 'CODE' || tag === 'PRE' || tag === 'SCRIPT' || tag === 'STYLE') return true;
      if (e.classList && ['answer', 'dataframe', 'casekit-data'].some(c => e.classList.contains(c))) return true;
    }
    return false;
  };
  const visible = el => {
    const s = getComputedStyle(el);
    if (s.visibility === 'hidden' || s.display === 'none') return false;
    return el.getClientRects().length > 0;
  };
  const english = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || skip(el) || !visible(el)) continue;
    for (const w of n.textContent.match(/[A-Za-z]{2,}/g) || []) {
      if (!allowed.includes(w)) english.push(w + ' «' + n.textContent.trim().slice(0, 60) + '»');
    }
  }
  const narrow = [];
  for (const c of document.querySelectorAll('td, th')) {
    if (!visible(c)) continue;
    const w = c.getBoundingClientRect().width;
    const em = parseFloat(getComputedStyle(c).fontSize);
    if (w < 2 * em) narrow.push(c.textContent.trim().slice(0, 20) + ' (' + w.toFixed(0) + 'px)');
  }
  const small = [];
  for (const img of document.querySelectorAll('img')) {
    if (!visible(img) || img.naturalWidth < 100) continue;
    const w = img.getBoundingClientRect().width;
    if (w < 340) small.push((img.alt || img.src.slice(0, 30)) + ' (' + w.toFixed(0) + 'px)');
  }
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  return {english, narrow_cells: narrow, small_charts: small, page_overflow: overflow,
          images: document.querySelectorAll('img').length, cells: document.querySelectorAll('td, th').length};
}"""


def check(page) -> dict:
    """Run :data:`CHECK_JS` in a Playwright page."""
    return page.evaluate(CHECK_JS, sorted(ALLOWED_WORDS))


def launch(playwright):
    """The system Chromium, as the other browser tests launch it."""
    from conftest import launch_chromium

    return launch_chromium(playwright)
