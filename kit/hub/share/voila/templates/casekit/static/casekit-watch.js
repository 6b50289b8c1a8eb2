/* casekit: say so when an edit or a hand-in did not reach the trainee's server.
 *
 * A workbook saves through its kernel: every save changes the data-at of the
 * question's status line. When an edit brings no new data-at within a few
 * seconds and the server does not answer a plain request either (the hub or the
 * network is down), the status line stops claiming 已保存 and says the edit is not
 * saved; a press of the hand-in button that brings no answer says the hand-in did
 * not reach the exchange. The button stays usable. The sentences come from the
 * workbook itself (.casekit-said), in the course's language.
 */
(function () {
  'use strict';
  var WAIT = 5000;
  var base = (document.body.getAttribute('data-base-url') || '/').replace(/voila\/$/, '');

  function said(name) {
    var el = document.querySelector('.casekit-said');
    return el ? el.getAttribute('data-' + name) || '' : '';
  }

  function reachable() {
    return fetch(base + 'api', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { return r.ok; })
      .catch(function () { return false; });
  }

  function stamp(q) {
    var s = q.querySelector('span.casekit-status[data-at]');
    return s ? s.getAttribute('data-at') + '|' + s.textContent : '';
  }

  var pending = new Map();

  function edited(q) {
    if (pending.has(q)) return;
    var before = stamp(q);
    pending.set(q, setTimeout(function () {
      pending.delete(q);
      if (stamp(q) !== before) return;
      reachable().then(function (ok) {
        if (ok || stamp(q) !== before) return;
        var s = q.querySelector('span.casekit-status[data-at]');
        if (!s) return;
        s.textContent = said('unsaved');
        s.classList.add('casekit-unsaved');
        s.setAttribute('role', 'alert');
      });
    }, WAIT));
  }

  function handin(panel) {
    var receipt = function () {
      var r = panel.querySelector('.casekit-receipt, .casekit-handin-failed, .casekit-confirm');
      return panel.innerText + (r ? r.outerHTML : '');
    };
    var before = receipt();
    setTimeout(function () {
      if (receipt() !== before) return;
      reachable().then(function (ok) {
        if (ok) return;
        var note = panel.querySelector('.casekit-page-alert');
        if (!note) {
          note = document.createElement('div');
          note.className = 'casekit-page-alert';
          note.setAttribute('role', 'alert');
          note.style.cssText = 'color:#c0392b;font-weight:600;font-size:16px;margin-top:6px';
          panel.appendChild(note);
        }
        note.textContent = said('offline-handin');
      });
    }, WAIT);
  }

  function watch(ev) {
    var t = ev.target;
    if (!(t instanceof Element)) return;
    var q = t.closest('.casekit-q');
    if (q && (ev.type !== 'click' || t.closest('button'))) { edited(q); return; }
    var panel = t.closest('.casekit-progress');
    if (panel && ev.type === 'click' && t.closest('button')) {
      var old = panel.querySelector('.casekit-page-alert');
      if (old) old.textContent = '';
      handin(panel);
    }
  }

  ['input', 'change', 'click'].forEach(function (type) {
    document.addEventListener(type, watch, true);
  });
})();
