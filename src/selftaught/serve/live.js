// The live view's only behaviour: poll the page's version, and when it moved, fetch the new body and
// swap it in (no reload). The body is parsed with DOMParser (scripts in it never run; the page's
// Content-Security-Policy allows no inline script anyway) and moved into the page as nodes. Text this
// script writes itself goes through textContent. Which <details> blocks are open, and the scroll
// position, survive an update.
(function () {
  'use strict';
  var body = document.body;
  var versionUrl = body.dataset.versionUrl;
  var bodyUrl = body.dataset.bodyUrl;
  if (!versionUrl || !bodyUrl) { return; }
  var token = new URLSearchParams(window.location.search).get('token');
  var interval = Math.max(250, 1000 * Number(body.dataset.pollSeconds || '1'));
  var version = body.dataset.version;
  var updates = 0;
  var state = document.getElementById('live-state');

  function withToken(url) {
    return token ? url + (url.indexOf('?') < 0 ? '?' : '&') + 'token=' + encodeURIComponent(token) : url;
  }
  function clock() { return new Date().toLocaleTimeString(); }
  // How long ago the run last wrote its store, when the server says (run pages): a run whose process
  // died stays "running" in its store, and this is how a reader notices.
  function silence(data) {
    if (typeof data.written !== 'number') { return ''; }
    var seconds = Math.max(0, Math.round(Date.now() / 1000 - data.written));
    return ' · run last wrote ' + (seconds < 120 ? seconds + ' s' : Math.round(seconds / 60) + ' min') + ' ago';
  }
  function say(text, stale) {
    if (!state) { return; }
    state.textContent = text;
    state.classList.toggle('stale', Boolean(stale));
  }
  // A <details> block is known by its id, or else by its place among the id-less blocks of its section.
  function detailsKey(d) {
    if (d.id) { return d.id; }
    var section = d.closest('section[id]');
    if (!section) { return null; }
    var plain = section.querySelectorAll('details:not([id])');
    return section.id + '#' + Array.prototype.indexOf.call(plain, d);
  }
  function detailsState(root) {
    var open = {};
    root.querySelectorAll('details').forEach(function (d) {
      var key = detailsKey(d);
      if (key !== null) { open[key] = d.open; }
    });
    return open;
  }
  function swap(html) {
    var doc = new DOMParser().parseFromString(html, 'text/html');
    var newMain = doc.querySelector('main');
    var newHead = doc.getElementById('live-head');
    var oldMain = document.querySelector('main');
    if (!newMain || !oldMain) { return false; }
    var open = detailsState(oldMain);
    var scroll = window.scrollY;
    var main = document.adoptNode(newMain);
    main.querySelectorAll('details').forEach(function (d) {
      var key = detailsKey(d);
      if (key !== null && Object.prototype.hasOwnProperty.call(open, key)) { d.open = open[key]; }
    });
    oldMain.replaceWith(main);
    var oldHead = document.getElementById('live-head');
    if (newHead && oldHead) { oldHead.replaceWith(document.adoptNode(newHead)); }
    if (window.selftaughtBind) { window.selftaughtBind(main); }
    window.scrollTo(0, scroll);
    version = main.dataset.version;
    updates += 1;
    body.dataset.updates = String(updates);
    return true;
  }
  function fetchText(url) {
    return fetch(withToken(url), { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error('HTTP ' + r.status); }
      return r.text();
    });
  }
  function tick() {
    fetchText(versionUrl)
      .then(function (text) {
        var data = JSON.parse(text);
        var latest = data.version;
        if (latest === version) {
          say('live · checked ' + clock() + silence(data), false);
          return null;
        }
        return fetchText(bodyUrl).then(function (html) {
          swap(html);
          say('live · updated ' + clock() + ' (' + updates + ' updates)' + silence(data), false);
        });
      })
      .catch(function (err) { say('live · server not answering (' + err.message + '); retrying', true); })
      .then(function () { window.setTimeout(tick, interval); });
  }
  window.setTimeout(tick, interval);
})();
