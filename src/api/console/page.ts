/**
 * The console's one page. Static: every number is filled in by the modules of `browser/` from
 * the admin API, and elements carry `data-testid`s so the browser test does not depend on the
 * layout.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Chargegate console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/app.css">
<script type="module" src="/console/app.js"></script>
</head>
<body>
<header class="bar">
  <h1>Chargegate <span>console</span></h1>
  <p id="status" class="status" role="status" aria-live="polite" data-testid="status">Signed out</p>
  <button id="sign-out" type="button" class="quiet" hidden>Sign out</button>
</header>

<section id="login" class="login card" aria-labelledby="login-title">
  <h2 id="login-title">Sign in</h2>
  <p>Enter the <code>ADMIN_TOKEN</code> this process was started with. It is kept in this tab only.</p>
  <form id="login-form" autocomplete="off">
    <label for="token-input">Admin token</label>
    <input id="token-input" name="token" type="password" required minlength="1" spellcheck="false" data-testid="token-input">
    <button id="login-submit" type="submit" data-testid="login-submit">Open console</button>
  </form>
  <p id="login-error" class="error" role="alert" data-testid="login-error"></p>
</section>

<main id="dashboard" hidden>
  <section class="tiles" aria-label="Current figures">
    <div class="tile" title="Requests answered 202 by this process since it started"><h2>Accepted</h2><p class="big" data-testid="accepted-total">–</p><p class="sub"><span data-testid="accepted-rate">–</span> /s now</p></div>
    <div class="tile" title="Decisions made by this process since it started"><h2>Decided</h2><p class="big" data-testid="decided-total">–</p><p class="sub"><span data-testid="decided-rate">–</span> /s now</p></div>
    <div class="tile" title="From the start of accepting a request to its session write (the 202 follows at once), as stored, over the selected range"><h2>POST → 202</h2><p class="big" data-testid="ack-p50">–</p><p class="sub">p50 · p99 <span data-testid="ack-p99">–</span></p></div>
    <div class="tile" title="From acceptance to the delivered callback, as stored, over the selected range"><h2>POST → callback</h2><p class="big" data-testid="callback-p50">–</p><p class="sub">p50 · p99 <span data-testid="callback-p99">–</span></p></div>
    <div class="tile" title="Calls to the authorization service, as stored, over the selected range"><h2>Auth latency</h2><p class="big" data-testid="auth-p50">–</p><p class="sub">p50 · p99 <span data-testid="auth-p99">–</span></p></div>
    <div class="tile" title="Delivered among callback attempts of this process, over the last minute"><h2>Callbacks OK</h2><p class="big" data-testid="callback-success">–</p><p class="sub" data-testid="callback-failed">last minute</p></div>
    <div class="tile"><h2>Dead letters</h2><p class="big" data-testid="dead-letter-count">–</p><p class="sub">callbacks to replay</p></div>
    <div class="tile" title="The circuit breaker in front of the authorization service"><h2>Circuit</h2><p class="big circuit" id="circuit" data-testid="circuit-state">–</p><p class="sub"><span data-testid="auth-in-flight">0</span> calls in flight</p></div>
  </section>

  <section class="head range-bar" aria-label="History range">
    <div class="ranges" role="group" aria-label="Range">
      <button type="button" class="quiet" data-range="15m" data-testid="range-15m">15 min</button>
      <button type="button" class="quiet" data-range="1h" data-testid="range-1h">1 h</button>
      <button type="button" class="quiet" data-range="6h" data-testid="range-6h">6 h</button>
      <button type="button" class="quiet" data-range="24h" data-testid="range-24h">24 h</button>
    </div>
    <p class="sub" id="history-note" data-testid="history-note">From the store: every process, across restarts.</p>
  </section>

  <section class="charts">
    <figure class="card">
      <figcaption><h2>Throughput</h2><span class="legend"><i class="k-accepted"></i>accepted/s <i class="k-decided"></i>decided/s</span></figcaption>
      <canvas id="chart-throughput" role="img" aria-label="Throughput" data-testid="chart-throughput"></canvas>
    </figure>
    <figure class="card">
      <figcaption><h2>Decision mix</h2><span class="legend"><i class="d-allowed"></i>allowed <i class="d-not_allowed"></i>not allowed <i class="d-invalid"></i>invalid <i class="d-unknown"></i><strong>unknown</strong></span></figcaption>
      <canvas id="chart-decisions" role="img" aria-label="Decisions over time" data-testid="chart-decisions"></canvas>
    </figure>
    <figure class="card">
      <figcaption><h2>POST → 202</h2><span class="legend"><i class="k-p50"></i>p50 <i class="k-p99"></i>p99 (ms)</span></figcaption>
      <canvas id="chart-latency" role="img" aria-label="POST to 202 latency" data-testid="chart-latency"></canvas>
    </figure>
    <figure class="card">
      <figcaption><h2>POST → callback</h2><span class="legend"><i class="k-p50"></i>p50 <i class="k-p99"></i>p99 (ms)</span></figcaption>
      <canvas id="chart-callback-latency" role="img" aria-label="POST to callback time" data-testid="chart-callback-latency"></canvas>
    </figure>
    <figure class="card">
      <figcaption><h2>Callback outcomes</h2><span class="legend"><i class="k-decided"></i>delivered/s <i class="k-p99"></i>retried/s <i class="k-dead"></i>dead-lettered/s</span></figcaption>
      <canvas id="chart-callbacks" role="img" aria-label="Callback outcomes" data-testid="chart-callbacks"></canvas>
    </figure>
    <figure class="card">
      <figcaption><h2>Backlog</h2><span class="legend"><i class="k-accepted"></i>accepted, not yet decided</span></figcaption>
      <canvas id="chart-backlog" role="img" aria-label="Backlog" data-testid="chart-backlog"></canvas>
    </figure>
  </section>

  <section class="split">
    <div class="card">
      <h2>Decision totals</h2>
      <ul id="decisions" class="mix" data-testid="decision-mix"></ul>
    </div>
    <div class="card">
      <h2>Queues</h2>
      <table class="grid">
        <thead><tr><th scope="col">Topic</th><th scope="col" class="n">Depth</th><th scope="col" class="n">Oldest</th><th scope="col" class="n">Dead letters</th></tr></thead>
        <tbody id="queues" data-testid="queues"></tbody>
      </table>
    </div>
  </section>

  <section class="card" aria-labelledby="dl-title">
    <div class="head">
      <h2 id="dl-title">Dead-lettered callbacks</h2>
      <button id="replay-all" type="button" data-testid="replay-all" disabled>Replay all…</button>
    </div>
    <table class="grid">
      <thead><tr><th scope="col">Receiver host</th><th scope="col">Reason</th><th scope="col" class="n">Callbacks</th><th scope="col">Oldest</th><th scope="col">Newest</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody id="dl-groups" data-testid="dead-letter-groups"></tbody>
    </table>
    <div class="pager">
      <p id="dl-empty" class="empty" data-testid="dead-letter-summary">No dead letters.</p>
      <button id="groups-prev" type="button" class="quiet small" data-testid="groups-prev" hidden>Previous</button>
      <button id="groups-next" type="button" class="quiet small" data-testid="groups-next" hidden>Next</button>
    </div>
    <div id="dl-letters" class="letters" data-testid="dead-letter-letters" hidden>
      <h3 id="dl-letters-title"></h3>
      <table class="grid">
        <thead><tr><th scope="col">ID</th><th scope="col">Request id</th><th scope="col">Status</th><th scope="col" class="n">Attempts</th><th scope="col">Dead-lettered</th><th scope="col"><span class="sr">Action</span></th></tr></thead>
        <tbody id="dead-letters" data-testid="dead-letters"></tbody>
      </table>
      <button id="letters-more" type="button" class="quiet small" data-testid="letters-more" hidden>More</button>
    </div>
  </section>

  <section class="card" aria-labelledby="clients-title">
    <h2 id="clients-title">API clients</h2>
    <table class="grid">
      <thead><tr><th scope="col">Client</th><th scope="col">Callback hosts</th><th scope="col">Rate limit</th><th scope="col">Key prefixes</th><th scope="col" class="n">Keys</th><th scope="col" class="n">Webhook secrets</th></tr></thead>
      <tbody id="clients" data-testid="clients"></tbody>
    </table>
    <p id="clients-empty" class="empty" data-testid="clients-empty">No API clients: the public API needs no key (docs/clients.md).</p>
  </section>

  <section class="card" aria-labelledby="stations-title">
    <h2 id="stations-title">Stations</h2>
    <table class="grid">
      <thead><tr><th scope="col">Station</th><th scope="col">Status</th><th scope="col" class="n">Charging points</th><th scope="col">Reserved today (UTC)</th><th scope="col">Action</th></tr></thead>
      <tbody id="stations" data-testid="stations"></tbody>
    </table>
    <p id="stations-empty" class="empty" data-testid="stations-empty">No stations: every start is asked about (docs/stations.md).</p>
  </section>

  <section class="card" aria-labelledby="lookup-title">
    <h2 id="lookup-title">Find a request</h2>
    <form id="lookup-form" class="inline" autocomplete="off">
      <label for="lookup-input">Request id</label>
      <input id="lookup-input" name="request_id" required spellcheck="false" placeholder="01a1fe2f-d2aa-775a-9f0f-7e8a7035c31b" data-testid="lookup-input">
      <button type="submit" data-testid="lookup-submit">Look up</button>
    </form>
    <p id="lookup-error" class="error" role="alert" data-testid="lookup-error"></p>
    <dl id="lookup-summary" class="summary" data-testid="lookup-summary" hidden></dl>
    <ol id="timeline" class="timeline" data-testid="timeline"></ol>
  </section>
</main>

<dialog id="confirm" class="confirm" aria-labelledby="confirm-title" data-testid="confirm-dialog">
  <h2 id="confirm-title">Replay dead letters?</h2>
  <p id="confirm-text" data-testid="confirm-text"></p>
  <ul id="confirm-hosts" class="hosts" data-testid="confirm-hosts"></ul>
  <div class="actions">
    <button id="confirm-cancel" type="button" class="quiet" data-testid="confirm-cancel">Cancel</button>
    <button id="confirm-ok" type="button" data-testid="confirm-replay">Replay</button>
  </div>
</dialog>

<div id="toast" class="toast" role="status" aria-live="polite" data-testid="toast" hidden></div>
</body>
</html>
`;
