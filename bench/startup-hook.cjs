// Start-up trace hook for bench/startup.ts, preloaded with `node --require` (CommonJS:
// it loads before, and far more cheaply than, an --import ES module would): when the CLI
// marks `cluster-node:ready`, write every `cluster-node:*` mark (name and
// performance.now() time, ms since the process's time origin) to stderr as one JSON
// line, {"startupTrace": [[name, ms], ...]}. The CLI marks only when
// CLUSTER_NODE_STARTUP_TRACE=1 (src/util/startup-trace.ts).
// Invariant: writes synchronously to fd 2, once; does nothing else.
'use strict';
const { writeSync } = require('node:fs');
const { PerformanceObserver } = require('node:perf_hooks');

const PREFIX = 'cluster-node:';
const seen = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (!e.name.startsWith(PREFIX)) continue;
    seen.push([e.name.slice(PREFIX.length), Number(e.startTime.toFixed(3))]);
    if (e.name === `${PREFIX}ready`) {
      writeSync(2, `${JSON.stringify({ startupTrace: seen })}\n`);
      observer.disconnect();
    }
  }
});
observer.observe({ type: 'mark' });
