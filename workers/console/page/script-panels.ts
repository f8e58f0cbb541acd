/**
 * console.js, second part: one order's timeline and the cancel action, the
 * dead-letter browser (replay, purge), consumers and the payment breaker,
 * stock, signing in and out, and the page's wiring.
 */
export const SCRIPT_PANELS = String.raw`
function summaryItem(term, value) { return value === undefined || value === null || value === '' ? [] : [el('dt', { text: term }), el('dd', {}, [value])]; }

function consumerSteps(steps) {
  return el('ul', { class: 'steps' }, steps.map(function (s) {
    var retries = s.retries.length === 0 ? '' : ', failed delivery ' + s.retries.map(function (r) { return r.deliveries; }).join(', ') + ' (nak)';
    var deliveries = s.deliveries === null ? '' : ', ' + s.deliveries + (s.deliveries === 1 ? ' delivery' : ' deliveries');
    return el('li', { class: 'state-' + s.state, 'data-consumer': s.consumer }, [s.consumer + ': ' + s.state.replace('_', ' ') + deliveries + retries]);
  }));
}

function compensationText(e) {
  var p = (e.message && e.message.payload) || {};
  if (e.event === 'payments.refunded') return 'refund ' + (p.refundId || '') + ' of ' + money(p.amountCents) + ' (' + (p.reason || '') + ')';
  if (e.event === 'inventory.released') return (p.returned ? 'sold units returned to stock' : 'held stock released') + ' (' + (p.reason || '') + ')';
  return 'order cancelled (' + (p.reason || '') + ')';
}

async function openOrder(orderId) {
  // As the console reads it (and as live changes name it): ids are lower-case.
  state.openOrderId = orderId.toLowerCase();
  await refreshOrder();
  $('order-title').focus();
}

async function refreshOrder() {
  var orderId = state.openOrderId;
  if (!orderId) return;
  var r = await api('/console/api/orders/' + encodeURIComponent(orderId));
  if (r.status !== 200) { notify('Order ' + orderId + ': ' + problem(r), 'error', 'order'); return; }
  clearError('order');
  if (state.openOrderId !== orderId) return;
  var o = r.body.order;
  var t = r.body.timeline;
  $('order').hidden = false;
  $('order').setAttribute('data-order-id', orderId);
  $('order-title').textContent = 'Order ' + orderId;
  var charges = (o.charges || []).map(function (c) { return c.chargeId + ' ' + money(c.amountCents); }).join(', ');
  var refunds = (o.refunds || []).map(function (x) { return x.refundId + ' ' + money(x.amountCents) + ' (' + x.reason + ')'; }).join(', ');
  $('order-summary').replaceChildren.apply($('order-summary'), [].concat(
    summaryItem('Status', badge(o.status)), summaryItem('Reason', o.reason), summaryItem('Customer', o.customerId),
    summaryItem('Amount', money(o.amountCents)), summaryItem('Priority', o.priority), summaryItem('Created', time(o.createdAt)),
    summaryItem('Updated', time(o.updatedAt)), summaryItem('Deadline', time(o.deadlineAt)), summaryItem('Charges', charges),
    summaryItem('Refunds', refunds), summaryItem('Correlation id', o.correlationId)));
  $('order-cancel').disabled = o.status === 'cancelled';
  var body = $('timeline-table').tBodies[0];
  body.replaceChildren.apply(body, t.events.map(function (e) {
    var m = e.message;
    return el('tr', { class: e.compensation ? 'compensation' : '', 'data-event': e.event }, [
      el('td', { text: time(m ? m.storedAt : e.at) }),
      el('td', {}, [el('code', { text: m ? m.subject : e.event })].concat(e.compensation ? [' (compensation)'] : [])),
      el('td', {}, [badge(e.status)]), el('td', { class: 'num', text: m ? String(m.seq) : 'not found' }),
      el('td', { text: m ? (m.publisher || '') + (m.scheduled ? ' (fired by nats-server)' : '') : '' }),
      el('td', {}, [consumerSteps(e.consumers)]),
    ]);
  }));
  var comps = t.events.filter(function (e) { return e.compensation; });
  $('compensations').replaceChildren.apply($('compensations'), comps.length === 0 ? [el('li', { text: 'none' })] :
    comps.map(function (e) { return el('li', { text: time(e.at) + ': ' + compensationText(e) }); }));
  $('order-dead-letters').replaceChildren.apply($('order-dead-letters'), t.deadLetters.length === 0 ? [el('li', { text: 'none' })] :
    t.deadLetters.map(function (d) {
      var text = '#' + d.id + ' ' + d.subject + ' from ' + d.consumer + ' after ' + (d.deliveries || '?') + ' deliveries: ' + d.reason +
        (d.present ? '' : ' (no longer in the DLQ)');
      return el('li', {}, [text + ' '].concat(d.present ? [replayButton(d.id)] : []));
    }));
}

async function cancelOpenOrder() {
  var orderId = state.openOrderId;
  if (!orderId || !window.confirm('Cancel order ' + orderId + '? A paid order is refunded and its stock put back.')) return;
  var r = await api('/console/api/orders/' + encodeURIComponent(orderId) + '/cancel', 'POST');
  if (r.status === 202) notify('Cancellation requested for order ' + orderId + ' (it was ' + r.body.status + ').');
  else if (r.status === 200) notify('Order ' + orderId + ' was already cancelled.');
  else { notify('Cancel failed: ' + problem(r), 'error'); return; }
  await refreshOrder();
}

function replayButton(id) {
  return el('button', { type: 'button', text: 'Replay', 'aria-label': 'Replay dead letter ' + id, onclick: function () { replay(id); } });
}

async function replay(id) {
  if (!window.confirm('Replay dead letter ' + id + '? Its event is published again and its saga step runs again.')) return;
  var r = await api('/console/api/dead-letters/' + id + '/replay', 'POST');
  if (r.status !== 200) { notify('Replay of dead letter ' + id + ' failed: ' + problem(r), 'error'); return; }
  notify(r.body.duplicate ? 'Dead letter ' + id + ' was replayed already (stored once).'
    : 'Replayed dead letter ' + id + ' to ' + r.body.subject + ' (stream sequence ' + r.body.seq + ').');
  await Promise.all([loadDeadLetters(), refreshOrder()]);
}

async function purgeOne(id) {
  if (!window.confirm('Purge dead letter ' + id + '? It is removed for good.')) return;
  var r = await api('/console/api/dead-letters/' + id + '/purge', 'POST');
  notify(r.status === 200 ? 'Purged dead letter ' + id + '.' : 'Purge failed: ' + problem(r), r.status === 200 ? 'info' : 'error');
  await loadDeadLetters();
}

async function purgeShown() {
  var subject = $('dlq-subject').value.trim();
  if (!window.confirm('Purge ' + (subject ? 'every dead letter on ' + subject : 'every dead letter') + '?')) return;
  var r = await api('/console/api/dead-letters/purge' + (subject ? '?subject=' + encodeURIComponent(subject) : ''), 'POST');
  notify(r.status === 200 ? 'Purged ' + r.body.purged + ' dead letters.' : 'Purge failed: ' + problem(r), r.status === 200 ? 'info' : 'error');
  await loadDeadLetters();
}

async function loadDeadLetters() {
  var subject = $('dlq-subject').value.trim();
  var r = await api('/console/api/dead-letters' + (subject ? '?subject=' + encodeURIComponent(subject) : ''));
  var body = $('dlq-table').tBodies[0];
  if (r.status !== 200) { notify('Dead letters: ' + problem(r), 'error', 'dlq'); return; }
  clearError('dlq');
  body.replaceChildren.apply(body, r.body.deadLetters.length === 0 ? [el('tr', {}, [el('td', { colspan: 7, text: 'No dead letters.' })])] :
    r.body.deadLetters.map(function (d) {
      return el('tr', { 'data-dead-letter': d.id }, [
        el('td', { class: 'num', text: String(d.id) }), el('td', { text: time(d.time) }), el('td', {}, [el('code', { text: d.subject || d.dlqSubject })]),
        el('td', { text: d.consumer || '' }), el('td', { class: 'num', text: d.deliveries === null ? '' : String(d.deliveries) }),
        el('td', { text: d.reason }),
        el('td', {}, [replayButton(d.id), ' ', el('button', { type: 'button', class: 'danger', text: 'Purge',
          'aria-label': 'Purge dead letter ' + d.id, onclick: function () { purgeOne(d.id); } })]),
      ]);
    }));
}

async function loadHealth() {
  var results = await Promise.all([api('/console/api/consumers'), api('/console/api/breaker')]);
  var consumers = results[0];
  var breaker = results[1];
  if (breaker.status === 200) {
    var b = $('breaker');
    b.textContent = breaker.body.state + (breaker.body.paused.length ? ' (paused: ' + breaker.body.paused.join(', ') + ')' : '') +
      (breaker.body.error ? ' (' + breaker.body.error + ')' : '');
    b.className = 'breaker-' + breaker.body.state;
  }
  // A table that cannot be read again is said to be stale, not left looking current.
  if (consumers.status !== 200) { notify('Consumers (figures as last read): ' + problem(consumers), 'error', 'health'); return; }
  clearError('health');
  var body = $('consumers-table').tBodies[0];
  body.replaceChildren.apply(body, consumers.body.consumers.map(function (c) {
    return el('tr', { 'data-consumer': c.name }, [el('td', { text: c.stream }), el('td', {}, [el('code', { text: c.name })]),
      el('td', { class: 'num', text: String(c.pending) }), el('td', { class: 'num', text: String(c.ackPending) }),
      el('td', { class: 'num', text: String(c.redelivered) }), el('td', { text: time(c.lastActive) })]);
  }));
}

async function loadStock() {
  var r = await api('/console/api/stock');
  if (r.status !== 200) { notify('Stock: ' + problem(r), 'error', 'stock'); return; }
  clearError('stock');
  var prefix = $('stock-sku').value.trim().toUpperCase();
  var rows = r.body.stock.filter(function (s) { return s.sku.indexOf(prefix) === 0; }).slice(0, 500);
  if (r.body.invalid.length > 0) notify('Stock: the record of ' + r.body.invalid.join(', ') + ' is not valid; a PUT /inventory/{sku} with an admin key replaces it.', 'error', 'stock');
  var body = $('stock-table').tBodies[0];
  body.replaceChildren.apply(body, rows.map(function (s) {
    return el('tr', { 'data-sku': s.sku }, [el('td', {}, [el('code', { text: s.sku })]), el('td', { class: 'num', text: String(s.onHand) }),
      el('td', { class: 'num', text: String(s.reserved) }), el('td', { class: 'num', text: String(s.available) }),
      el('td', { class: 'num', text: money(s.priceCents) }), el('td', { class: 'num', text: String(s.sold) })]);
  }));
}

function show(signedIn) {
  $('sign-in').hidden = signedIn;
  $('console').hidden = !signedIn;
  $('sections').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

function signOut(message) {
  sessionStorage.removeItem(STORE);
  stopLive();
  state.timers.forEach(clearInterval);
  state.timers = [];
  state.openOrderId = null;
  state.liveConnected = false;
  if (state.enterRetry) clearTimeout(state.enterRetry);
  state.enterRetry = null;
  show(false);
  setLiveState('Not signed in');
  $('sign-in-error').textContent = message || '';
  $('api-key').focus();
}

async function enter() {
  var r;
  if (state.enterRetry) clearTimeout(state.enterRetry);
  state.enterRetry = null;
  try { r = await api('/console/api/consumers'); } catch (e) { return; }
  if (r.status !== 200) {
    // Not a refused key (that signed out above): the key is kept and asked again, so
    // a reload during an outage does not sign the operator out.
    show(false);
    setLiveState('Not signed in yet');
    $('sign-in-error').textContent = 'The console did not answer: ' + problem(r) + '; trying again every 3 s.';
    state.enterRetry = setTimeout(enter, 3000);
    return;
  }
  show(true);
  $('sign-in-error').textContent = '';
  startLive();
  state.timers.push(setInterval(function () { loadHealth().catch(function () {}); }, 3000));
  await Promise.all([loadOrders(null), loadDeadLetters(), loadHealth(), loadStock()]);
}

document.addEventListener('DOMContentLoaded', function () {
  $('sign-in-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    sessionStorage.setItem(STORE, $('api-key').value.trim());
    $('api-key').value = '';
    enter();
  });
  $('sign-out').addEventListener('click', function () { signOut('Signed out.'); });
  $('search').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var orderId = $('search-order').value.trim();
    if (orderId) { openOrder(orderId); return; }
    state.filters = { status: $('search-status').value, reason: $('search-reason').value, customer: $('search-customer').value.trim() };
    state.older = [];
    loadOrders(null);
  });
  $('search-clear').addEventListener('click', function () {
    $('search').reset();
    state.filters = {};
    state.older = [];
    loadOrders(null);
  });
  $('page-older').addEventListener('click', async function () {
    // Live updates pushed rows off the first page since it was read: its
    // cursor would skip them, so the first page is read again first.
    if (state.liveMode && state.shifted) await loadOrders(null);
    // A failed re-read leaves the old cursor (its error is shown): stay.
    if (state.shifted || !state.next) return;
    state.older.push(state.pageCursor);
    loadOrders(state.next);
  });
  $('page-newer').addEventListener('click', function () { loadOrders(state.older.pop() || null); });
  $('order-cancel').addEventListener('click', cancelOpenOrder);
  $('order-refresh').addEventListener('click', refreshOrder);
  $('order-close').addEventListener('click', function () { state.openOrderId = null; $('order').hidden = true; $('orders-title').scrollIntoView(); });
  $('dlq-filter').addEventListener('submit', function (ev) { ev.preventDefault(); loadDeadLetters(); });
  $('dlq-purge-all').addEventListener('click', purgeShown);
  $('stock-filter').addEventListener('submit', function (ev) { ev.preventDefault(); loadStock(); });
  if (key()) enter(); else show(false);
});
`
