/**
 * The console page: landmarks, headings and labelled controls; no inline
 * script or style (the Content-Security-Policy forbids them). It holds no
 * data: console.js fills it from /console/api/ with the operator's key.
 */
export const CONSOLE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Order saga console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css">
<script src="/console/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to the console</a>
<header class="top">
  <h1>Order saga console</h1>
  <p id="live-state" class="live-state" aria-live="polite">Not signed in</p>
  <button type="button" id="sign-out" hidden>Sign out</button>
</header>
<nav aria-label="Sections" id="sections" hidden>
  <ul>
    <li><a href="#orders">Orders</a></li>
    <li><a href="#dead-letters">Dead letters</a></li>
    <li><a href="#health">Consumers and breaker</a></li>
    <li><a href="#stock">Stock</a></li>
  </ul>
</nav>
<main id="main" tabindex="-1">
  <section id="sign-in" aria-labelledby="sign-in-title">
    <h2 id="sign-in-title">Sign in</h2>
    <form id="sign-in-form">
      <p>The console needs an admin API key (<code>ADMIN_API_KEY</code>). It is kept in this tab only
      (session storage) and sent as <code>Authorization: Bearer</code>.</p>
      <label for="api-key">Admin API key</label>
      <input id="api-key" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
      <p id="sign-in-error" class="error" role="alert"></p>
    </form>
  </section>

  <div id="console" hidden>
    <p id="notice" class="notice" role="status" aria-live="polite"></p>

    <section id="orders" aria-labelledby="orders-title">
      <h2 id="orders-title">Orders</h2>
      <form id="search" class="filters">
        <div><label for="search-order">Order id</label>
          <input id="search-order" name="order" autocomplete="off" spellcheck="false" size="38"></div>
        <div><label for="search-customer">Customer</label>
          <input id="search-customer" name="customer" autocomplete="off" size="16"></div>
        <div><label for="search-status">Status</label>
          <select id="search-status" name="status">
            <option value="">any</option><option>pending</option><option>reserved</option>
            <option>confirmed</option><option>cancelled</option>
          </select></div>
        <div><label for="search-reason">Reason</label>
          <select id="search-reason" name="reason">
            <option value="">any</option><option>out_of_stock</option><option>payment_declined</option>
            <option>payment_failed</option><option>customer_request</option><option>deadline_exceeded</option>
          </select></div>
        <div class="actions"><button type="submit">Search</button>
          <button type="button" id="search-clear">Clear</button></div>
      </form>
      <p id="orders-mode" class="hint"></p>
      <table id="orders-table">
        <caption class="visually-hidden">Orders, newest first</caption>
        <thead><tr><th scope="col">Order</th><th scope="col">Customer</th><th scope="col">Status</th>
          <th scope="col">Reason</th><th scope="col" class="num">Amount</th><th scope="col">Created (UTC)</th></tr></thead>
        <tbody></tbody>
      </table>
      <div class="pager">
        <button type="button" id="page-newer" disabled>Newer</button>
        <button type="button" id="page-older" disabled>Older</button>
      </div>
    </section>

    <section id="order" aria-labelledby="order-title" hidden>
      <h2 id="order-title" tabindex="-1">Order</h2>
      <dl id="order-summary" class="summary"></dl>
      <p><button type="button" id="order-cancel" class="danger">Cancel this order</button>
        <button type="button" id="order-refresh">Refresh</button>
        <button type="button" id="order-close">Close</button></p>
      <h3>Timeline</h3>
      <table id="timeline-table">
        <caption class="visually-hidden">Every event of the order, oldest first</caption>
        <thead><tr><th scope="col">Time (UTC)</th><th scope="col">Event</th><th scope="col">Status</th>
          <th scope="col" class="num">Seq</th><th scope="col">Published by</th><th scope="col">Consumers</th></tr></thead>
        <tbody></tbody>
      </table>
      <h3>Compensations</h3>
      <ul id="compensations"></ul>
      <h3>Dead letters of this order</h3>
      <ul id="order-dead-letters"></ul>
    </section>

    <section id="dead-letters" aria-labelledby="dead-letters-title">
      <h2 id="dead-letters-title">Dead letters</h2>
      <form id="dlq-filter" class="filters">
        <div><label for="dlq-subject">Subject</label>
          <input id="dlq-subject" name="subject" placeholder="dlq.orders.created" size="28"></div>
        <div class="actions"><button type="submit">Show</button>
          <button type="button" id="dlq-purge-all" class="danger">Purge these</button></div>
      </form>
      <table id="dlq-table">
        <caption class="visually-hidden">Dead letters, newest first</caption>
        <thead><tr><th scope="col" class="num">Id</th><th scope="col">Time (UTC)</th><th scope="col">Subject</th>
          <th scope="col">Consumer</th><th scope="col" class="num">Deliveries</th><th scope="col">Reason</th>
          <th scope="col">Actions</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>

    <section id="health" aria-labelledby="health-title">
      <h2 id="health-title">Consumers and payment breaker</h2>
      <p>Payment circuit breaker: <strong id="breaker">unknown</strong></p>
      <table id="consumers-table">
        <caption class="visually-hidden">Consumers and their lag</caption>
        <thead><tr><th scope="col">Stream</th><th scope="col">Consumer</th><th scope="col" class="num">Pending</th>
          <th scope="col" class="num">Ack pending</th><th scope="col" class="num">Redelivered</th>
          <th scope="col">Last delivery (UTC)</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>

    <section id="stock" aria-labelledby="stock-title">
      <h2 id="stock-title">Stock</h2>
      <form id="stock-filter" class="filters">
        <div><label for="stock-sku">Sku starts with</label><input id="stock-sku" name="sku" size="16"></div>
        <div class="actions"><button type="submit">Refresh</button></div>
      </form>
      <table id="stock-table">
        <caption class="visually-hidden">Stock per sku</caption>
        <thead><tr><th scope="col">Sku</th><th scope="col" class="num">On hand</th><th scope="col" class="num">Reserved</th>
          <th scope="col" class="num">Available</th><th scope="col" class="num">Price</th><th scope="col" class="num">Sold</th></tr></thead>
        <tbody></tbody>
      </table>
    </section>
  </div>
</main>
</body>
</html>
`
