// Memory trace hook for the soak (runner.ts), preloaded into the long-lived nodes with
// `node --require` (CommonJS: it loads before the CLI). It appends one JSON line per
// sample to the file named by CLUSTER_NODE_MEMORY_TRACE:
// - every CLUSTER_NODE_MEMORY_TRACE_MS (default 5000) ms, {"k":"tick", at, rss, heapTotal,
//   heapUsed, external, arrayBuffers, code} (bytes; code: V8's code spaces);
// - after each major (mark-compact) GC, {"k":"major", at, heapUsed}: what survived a full
//   collection, the best measure of what the node really keeps.
// - with CLUSTER_NODE_MEMORY_TRACE_GC_MS set, a full GC forced that often (its result is a
//   "major" record too): a control, so the heap a node keeps is sampled regularly even in
//   a run too short for V8 to collect its old generation on its own.
// `at` is Date.now() ms. The process's own RSS is sampled from /proc by the runner; this
// adds what only the process can see: how much of it is the V8 heap, and how much of the
// heap is live.
// Invariants: writes synchronously, never throws into the node (a failed write ends the
// trace), keeps no timer alive (unref), and does nothing at all without the variable.
'use strict';
const { appendFileSync } = require('node:fs');
const { PerformanceObserver, constants } = require('node:perf_hooks');
const { getHeapSpaceStatistics } = require('node:v8');

const path = process.env.CLUSTER_NODE_MEMORY_TRACE;
if (path) {
  const every = Number(process.env.CLUSTER_NODE_MEMORY_TRACE_MS) || 5000;
  let broken = false;
  const write = (record) => {
    if (broken) return;
    try {
      appendFileSync(path, `${JSON.stringify(record)}\n`);
    } catch {
      broken = true;
    }
  };
  const code = () => getHeapSpaceStatistics().reduce((n, s) => (s.space_name.startsWith('code') ? n + s.space_used_size : n), 0);
  const tick = () => {
    const m = process.memoryUsage();
    write({ k: 'tick', at: Date.now(), rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, code: code() });
  };
  tick();
  setInterval(tick, every).unref();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) write({ k: 'major', at: Date.now(), heapUsed: process.memoryUsage().heapUsed });
    }
  });
  observer.observe({ type: 'gc' });
  const gcEvery = Number(process.env.CLUSTER_NODE_MEMORY_TRACE_GC_MS);
  if (gcEvery > 0) {
    require('node:v8').setFlagsFromString('--expose-gc');
    const gc = require('node:vm').runInNewContext('gc');
    setInterval(() => gc(), gcEvery).unref();
  }
}
