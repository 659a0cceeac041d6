// Master timeline (bench/master-timeline.ts): when node-discover processes acted as master
// and when two did at once, from promotion/demotion lines and the harness's signals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveOrder, masterIntervals, masterOverlaps } from '../../bench/master-timeline.js';
import type { MasterEvent } from '../../bench/master-timeline.js';

const ev = (proc: number, kind: MasterEvent['kind'], at: number): MasterEvent => ({ proc, kind, at });
const spans = (events: MasterEvent[], to: number): [number, number, number][] => masterIntervals(events, to).map((i) => [i.proc, i.from, i.to]);
const overlaps = (events: MasterEvent[], to: number): [number, number, number[]][] =>
  masterOverlaps(masterIntervals(events, to)).map((o) => [o.from, o.to, o.procs]);

test('acting-master intervals, table', () => {
  const cases: { name: string; events: MasterEvent[]; to: number; want: [number, number, number][] }[] = [
    { name: 'one master until the end', events: [ev(0, 'promotion', 100)], to: 1000, want: [[0, 100, 1000]] },
    { name: 'demotion ends it', events: [ev(0, 'promotion', 100), ev(0, 'demotion', 400)], to: 1000, want: [[0, 100, 400]] },
    { name: 'SIGKILL ends it; a line read after the kill was written before it', events: [ev(0, 'promotion', 100), ev(0, 'SIGKILL', 500), ev(0, 'demotion', 600)], to: 1000, want: [[0, 100, 500]] },
    {
      name: 'SIGSTOP suspends, SIGCONT resumes a master',
      events: [ev(0, 'promotion', 100), ev(0, 'SIGSTOP', 500), ev(0, 'SIGCONT', 3000), ev(0, 'demotion', 3500)],
      to: 5000,
      want: [
        [0, 100, 500],
        [0, 3000, 3500],
      ],
    },
    { name: 'a promotion read during the freeze predates it: master again at SIGCONT', events: [ev(0, 'SIGSTOP', 100), ev(0, 'promotion', 150), ev(0, 'SIGCONT', 1000)], to: 2000, want: [[0, 1000, 2000]] },
    { name: 'a demotion read during the freeze: not master at SIGCONT', events: [ev(0, 'promotion', 50), ev(0, 'SIGSTOP', 100), ev(0, 'demotion', 150), ev(0, 'SIGCONT', 1000)], to: 2000, want: [[0, 50, 100]] },
    { name: 'exit ends it', events: [ev(1, 'promotion', 10), ev(1, 'exit', 20)], to: 100, want: [[1, 10, 20]] },
    { name: 'never promoted', events: [ev(0, 'SIGSTOP', 10), ev(0, 'SIGCONT', 20), ev(0, 'demotion', 30)], to: 100, want: [] },
  ];
  for (const c of cases) assert.deepEqual(spans(c.events, c.to), c.want, c.name);
});

test('two masters at once, table', () => {
  const cases: { name: string; events: MasterEvent[]; to: number; want: [number, number, number[]][] }[] = [
    { name: 'handover at one instant is no overlap', events: [ev(0, 'promotion', 0), ev(0, 'demotion', 500), ev(1, 'promotion', 500)], to: 1000, want: [] },
    {
      name: 'frozen master wakes beside the new one until one demotes',
      events: [ev(0, 'promotion', 0), ev(0, 'SIGSTOP', 1000), ev(1, 'promotion', 4000), ev(0, 'SIGCONT', 4100), ev(1, 'demotion', 5200)],
      to: 8000,
      want: [[4100, 5200, [0, 1]]],
    },
    { name: 'a frozen master does not count', events: [ev(0, 'promotion', 0), ev(0, 'SIGSTOP', 1000), ev(1, 'promotion', 4000)], to: 8000, want: [] },
    {
      name: 'three at once is one overlap naming all three',
      events: [ev(0, 'promotion', 0), ev(1, 'promotion', 100), ev(2, 'promotion', 200), ev(2, 'demotion', 300), ev(1, 'demotion', 400)],
      to: 1000,
      want: [[100, 400, [0, 1, 2]]],
    },
    { name: 'still two at the end', events: [ev(0, 'promotion', 0), ev(1, 'promotion', 900)], to: 1000, want: [[900, 1000, [0, 1]]] },
  ];
  for (const c of cases) assert.deepEqual(overlaps(c.events, c.to), c.want, c.name);
});

test('effectiveOrder dates frozen and posthumous lines back and puts them before the signal', () => {
  const order = effectiveOrder([ev(0, 'SIGSTOP', 100), ev(0, 'promotion', 150), ev(1, 'promotion', 120), ev(0, 'SIGCONT', 200)]);
  assert.deepEqual(
    order.map((e) => [e.proc, e.kind, e.at]),
    [
      [0, 'promotion', 100],
      [0, 'SIGSTOP', 100],
      [1, 'promotion', 120],
      [0, 'SIGCONT', 200],
    ],
  );
});
