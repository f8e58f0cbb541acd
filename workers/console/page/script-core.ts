/**
 * console.js, first part: the key (session storage, Authorization header),
 * the API helper, the live stream (Server-Sent Events read with fetch, since
 * EventSource cannot send a header) and the orders list. Plain browser
 * JavaScript in a string (no build step); text goes in with textContent only.
 */
export const SCRIPT_CORE = String.raw`
var STORE = 'orderSagaConsoleKey';
var $ = function (id) { return document.getElementById(id); };
var state = { filters: {}, pageCursor: null, older: [], next: null, liveMode: true, rows: new Map(),
  liveAbort: null, liveRetry: null, timers: [], openOrderId: null, shifted: false,
  liveConnected: false, enterRetry: null };

function key() { return sessionStorage.getItem(STORE) || ''; }
function authHeaders() { return { Authorization: 'Bearer ' + key() }; }

function el(tag, props, children) {
  var n = document.createElement(tag);
  Object.keys(props || {}).forEach(function (k) {
    var v = props[k];
    if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else if (k.indexOf('on') === 0) n.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? '' : String(v));
  });
  (children || []).forEach(function (c) { if (c !== null && c !== undefined) n.append(c); });
  return n;
}
function time(iso) {
  if (!iso) return '';
  var d = new Date(iso);
  return isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').slice(0, 23);
}
function money(cents) { return typeof cents === 'number' ? (cents / 100).toFixed(2) : ''; }
function badge(value, prefix) { return el('span', { class: 'status ' + (prefix || 'status-') + value, text: value }); }
// One line at the top of the page, kept in view (sticky). An error names the
// panel it came from (source): the next successful load of that panel
// clears it; an action's error (no source) stays until the next message.
var noticeTimer = null;
function notify(text, kind, source) {
  var n = $('notice');
  clearTimeout(noticeTimer);
  n.textContent = '';
  n.className = kind === 'error' ? 'notice notice-error' : 'notice';
  n.dataset.source = kind === 'error' && source ? source : '';
  // Emptied, then set: a screen reader announces the same text again.
  noticeTimer = setTimeout(function () { n.textContent = text; }, 30);
}
function clearError(source) {
  var n = $('notice');
  if (n.className !== 'notice notice-error' || n.dataset.source !== source) return;
  clearTimeout(noticeTimer);
  n.textContent = '';
  n.className = 'notice';
  n.dataset.source = '';
}
function problem(r) { return (r.body && (r.body.message || r.body.error)) || ('status ' + r.status); }

/** Every call's deadline: a console that hangs gets an answer on the page, not a click pending for good. */
var API_TIMEOUT_MS = 15000;

async function api(path, method) {
  var res;
  try {
    res = await fetch(path, { method: method || 'GET', headers: authHeaders(), cache: 'no-store',
      signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (e) {
    // Not reached, or no answer in time: status 0, said like the console's own errors.
    return { status: 0, body: { error: 'unreachable', message: 'the console did not answer (' + (e && e.name === 'TimeoutError' ?
      'no answer in ' + API_TIMEOUT_MS / 1000 + ' s' : 'network error') + ')' +
      (method === 'POST' ? ': the action may have been done; look before repeating it' : '') } };
  }
  var body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (res.status === 401 || res.status === 403) {
    signOut('The key was refused (' + res.status + '): sign in with an admin API key.');
    throw new Error('unauthorized');
  }
  return { status: res.status, body: body };
}

function setLiveState(text) { $('live-state').textContent = text; }

function stopLive() {
  if (state.liveAbort) state.liveAbort.abort();
  if (state.liveRetry) clearTimeout(state.liveRetry);
  state.liveAbort = null;
  state.liveRetry = null;
}

async function startLive() {
  stopLive();
  var ctrl = new AbortController();
  state.liveAbort = ctrl;
  try {
    var res = await fetch('/console/api/live', { headers: authHeaders(), signal: ctrl.signal, cache: 'no-store' });
    if (res.status === 401 || res.status === 403) { signOut('The key was refused: sign in again.'); return; }
    if (!res.ok || !res.body) throw new Error('live stream answered ' + res.status);
    setLiveState('Live updates on');
    // Back after a break: what changed meanwhile was sent to nobody, so the first page is read again.
    if (state.liveConnected && state.liveMode) loadOrders(null).catch(function () {});
    state.liveConnected = true;
    var reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    var buffer = '';
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += chunk.value;
      var end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        onLiveEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (e) {
    if (ctrl.signal.aborted) return;
  }
  if (ctrl.signal.aborted || !key()) return;
  setLiveState('Live updates reconnecting');
  state.liveRetry = setTimeout(startLive, 2000);
}

function onLiveEvent(block) {
  var event = 'message';
  var data = [];
  block.split('\n').forEach(function (line) {
    if (line.indexOf('event:') === 0) event = line.slice(6).trim();
    else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
  });
  if (event !== 'orders') return;
  var changes = JSON.parse(data.join('\n'));
  if (state.liveMode) changes.forEach(applyChange);
  if (state.openOrderId && changes.some(function (c) { return c.orderId === state.openOrderId; })) refreshOrder().catch(function () {});
}

function toRow(o) {
  return { orderId: o.orderId, status: o.status, reason: o.reason, customerId: o.customerId, amountCents: o.amountCents,
    priority: o.priority,
    createdMs: typeof o.createdMs === 'number' ? o.createdMs : Date.parse(o.createdAt || '') || Date.now() };
}

function orderRow(o) {
  var open = el('button', { type: 'button', class: 'link', text: o.orderId, 'aria-label': 'Open order ' + o.orderId,
    onclick: function () { openOrder(o.orderId); } });
  return el('tr', { 'data-order-id': o.orderId, 'data-status': o.status }, [
    el('td', {}, [open]), el('td', { text: o.customerId || '' }),
    el('td', {}, o.priority === 'express' ? [badge(o.status), ' ', badge('express', 'priority-')] : [badge(o.status)]),
    el('td', { text: o.reason || '' }), el('td', { class: 'num', text: money(o.amountCents) }),
    el('td', { text: time(o.createdMs) }),
  ]);
}

// Newest first, by creation time, then by order id (time-ordered): not by when a change arrived.
function firstOlderRow(body, row) {
  for (var i = 0; i < body.rows.length; i++) {
    var other = state.rows.get(body.rows[i].getAttribute('data-order-id'));
    if (!other || other.createdMs < row.createdMs || (other.createdMs === row.createdMs && other.orderId < row.orderId))
      return body.rows[i];
  }
  return null;
}

function applyChange(change) {
  var row = toRow(change);
  var body = $('orders-table').tBodies[0];
  var old = null;
  // Compared, never put in a selector: an id is data.
  for (var i = 0; i < body.rows.length && !old; i++)
    if (body.rows[i].getAttribute('data-order-id') === row.orderId) old = body.rows[i];
  var known = state.rows.get(row.orderId);
  if (known && row.amountCents === undefined) row.amountCents = known.amountCents;
  state.rows.set(row.orderId, row);
  var tr = orderRow(row);
  tr.classList.add('flash');
  if (old) old.replaceWith(tr);
  else body.insertBefore(tr, firstOlderRow(body, row));
  while (body.rows.length > 50) {
    var last = body.rows[body.rows.length - 1];
    state.rows.delete(last.getAttribute('data-order-id'));
    last.remove();
    // The page's cursor now points past rows no longer shown, or there was none (see 'page-older').
    state.shifted = true;
    $('page-older').disabled = false;
  }
}

async function loadOrders(cursor) {
  var q = new URLSearchParams({ limit: '50' });
  ['status', 'reason', 'customer'].forEach(function (k) { if (state.filters[k]) q.set(k, state.filters[k]); });
  if (cursor) q.set('cursor', cursor);
  var r = await api('/console/api/orders?' + q.toString());
  if (r.status !== 200) { notify('Search failed: ' + problem(r), 'error', 'orders'); return; }
  clearError('orders');
  state.pageCursor = cursor;
  state.next = r.body.next;
  state.shifted = false;
  state.rows = new Map();
  var body = $('orders-table').tBodies[0];
  body.replaceChildren();
  r.body.orders.forEach(function (o) { var row = toRow(o); state.rows.set(row.orderId, row); body.append(orderRow(row)); });
  state.liveMode = !cursor && !state.filters.status && !state.filters.reason && !state.filters.customer;
  $('orders-mode').textContent = (state.liveMode
    ? 'Newest first, live: new orders and status changes appear as they happen.'
    : 'Search results, newest first (not live; clear the search to watch live).');
  $('page-older').disabled = !state.next;
  $('page-newer').disabled = state.older.length === 0;
}
`
