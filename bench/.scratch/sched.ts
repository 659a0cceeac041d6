import { generateSchedule, describeStep } from '../../test/chaos/schedule.ts';
for (const seed of [1010, 7, 42]) { const s = generateSchedule(seed, { durationMs: 120000, maxDisrupted: 2 }); console.log(seed, s.map(x => x.kind).join(','), s.length); }
