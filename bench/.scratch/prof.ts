import { createVirtualLan } from '../../test/helpers/vlan.js';
import { startCliNode, CLI_BIN, CliNode, REPO_ROOT } from '../../test/helpers/cli-process.js';
import { placement, meshedAt } from '../../bench/formation.js';
async function main(){
const N = Number(process.argv[2] ?? 10);
const idle = Number(process.argv[3] ?? 30);
const dir = process.argv[4] ?? '/tmp/scaleprof/out';
const lan = await createVirtualLan(5);
const nodes: CliNode[] = [];
try {
  for (const p of placement(N, 5)) {
    if (p.name === 'node1@h1') {
      const child = lan.spawn(1, process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--heapsnapshot-signal=SIGUSR2', CLI_BIN, '--name', p.name, '--cookie', 'prof', '--log-format', 'json', '--log-level', 'info', '--no-singleton', ...(process.env.EXTRA ?? '').split(' ').filter(Boolean)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
      nodes.push(new CliNode(child, p.name, lan.host(1)));
    } else nodes.push(startCliNode(lan, p.host, { name: p.name, cookie: 'prof', args: ['--no-singleton', ...(process.env.EXTRA ?? '').split(' ').filter(Boolean)] }));
  }
  const names = nodes.map((n) => n.name);
  await Promise.all(nodes.map((n) => n.waitUntil(() => meshedAt(n.logs, names.filter((x) => x !== n.name)), 120000, 'mesh')));
  console.log('meshed; idle', idle, 's');
  await new Promise((r) => setTimeout(r, idle * 1000));
  console.log('rss node1', (await import('node:fs')).readFileSync(`/proc/${nodes[0]!.pid}/status`, 'utf8').match(/VmRSS.*|RssAnon.*|RssFile.*/g));
} finally {
  await Promise.all(nodes.map((n) => n.stop(5000)));
  await lan.destroy();
}
}
main();
