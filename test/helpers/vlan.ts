// Virtual LAN: N hosts, each a network namespace with one `eth0` (10.77.0.I/24)
// plugged into one bridge, all inside a private user+net+mount namespace held
// open by one `sleep` process. No root needed and nothing reaches the machine's
// real network: the bridge has no uplink and the hosts have no default route, so
// multicast (mDNS) and unicast alike stay between the namespaces.
// Invariants: every process a VirtualLan starts runs inside one of its hosts
// (never in the caller's namespaces); destroy() kills all of them and the holder;
// if the calling process dies without destroy(), PR_SET_PDEATHSIG (setpriv) kills
// the holder and every started process, so the namespaces vanish with it.
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';

/** One virtual host: a network namespace with `lo` and `eth0`. */
export interface Host {
  /** 1-based index; the host's address ends in it. */
  index: number;
  /** Namespace name, `h1`, `h2`, ... (usable as the host part of a node name). */
  name: string;
  /** IPv4 address of the host's eth0, e.g. `10.77.0.1`. */
  address: string;
}

/** What exec() resolves to. */
export interface ExecResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for createVirtualLan. */
export interface VirtualLanOptions {
  /** First three octets of the private /24 the hosts live in; default '10.77.0'. */
  subnet?: string;
  /** How long to wait for the namespaces to be ready; default 10 000 ms. */
  readyTimeoutMs?: number;
}

/** Options for VirtualLan.exec. */
export interface ExecOptions {
  /** Kill the command (SIGKILL) and resolve with what it printed after this long; default 30 000 ms. */
  timeoutMs?: number;
  /** Text written to the command's stdin, which is then closed. */
  input?: string;
}

/** A running virtual LAN. */
export interface VirtualLan {
  /** The hosts, in index order (hosts[0] is h1). */
  readonly hosts: readonly Host[];
  /** Pid of the process holding the namespaces open. */
  readonly holderPid: number;
  /** The host with this 1-based index, or the host itself; throws on an unknown host. */
  host(host: Host | number): Host;
  /** Run a command on a host and collect its output. */
  exec(host: Host | number, cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Run a command in the bridge's namespace (the "switch"; it has no hosts' addresses). */
  execBridge(cmd: string, args?: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Start a command on a host. The returned process's pid is the command's own pid
   * (nsenter and `ip netns exec` both exec), so signals reach it directly.
   */
  spawn(host: Host | number, cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Unplug a host's cable: set its bridge-side veth down (eth0 in the host loses carrier). */
  linkDown(host: Host | number): Promise<void>;
  /** Plug a host's cable back in. */
  linkUp(host: Host | number): Promise<void>;
  /** SIGKILL every process this LAN started, then the holder; resolves when all have exited. Idempotent. */
  destroy(): Promise<void>;
}

const DEFAULT_SUBNET = '10.77.0';
const DEFAULT_READY_TIMEOUT_MS = 10_000;
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Processes still alive when the test process exits are killed by this hook. */
const liveLans = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const kill of liveLans) kill();
  });
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The shell script the holder runs: builds bridge and hosts, says "ready", then sleeps. */
function holderScript(hosts: readonly Host[]): string {
  const lines = [
    'set -e',
    'mount -t tmpfs none /run',
    'mkdir -p /run/netns',
    'ip link set lo up',
    // 224.0.0.x is flooded by bridges anyway; no snooping keeps every group flooded too.
    'ip link add br0 type bridge mcast_snooping 0',
    'ip link set br0 up',
  ];
  for (const h of hosts) {
    const inHost = `ip netns exec ${h.name}`;
    lines.push(
      `ip netns add ${h.name}`,
      `ip link add v${h.index} type veth peer name eth0 netns ${h.name}`,
      `ip link set v${h.index} master br0 up`,
      `${inHost} ip link set lo up`,
      `${inHost} ip addr add ${h.address}/24 dev eth0`,
      `${inHost} ip link set eth0 up`,
      `${inHost} ip route add 224.0.0.0/4 dev eth0`,
    );
  }
  lines.push('echo ready', 'exec sleep infinity');
  return lines.join('\n');
}

function collect(child: ChildProcess, opts: ExecOptions | undefined): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => killQuietly(child.pid), opts?.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (child.stdin) {
      // The command may exit before reading its input: an EPIPE here is not a failure.
      child.stdin.on('error', () => {});
      child.stdin.end(opts?.input ?? '');
    }
  });
}

function exitedPromise(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

/** True when `setpriv` exists; it arms the parent-death signal of every started process. */
function hasSetpriv(): boolean {
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  for (const dir of path) {
    try {
      accessSync(`${dir}/setpriv`, constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function readHolderPid(unsharePid: number): number | undefined {
  try {
    const kids = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/);
    const pid = Number(kids[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Build a virtual LAN of `hosts` hosts (1-254) on a private bridge. Rejects with the
 * reason (e.g. user namespaces disabled, a missing tool) when it cannot be made.
 */
export async function createVirtualLan(hosts: number, opts?: VirtualLanOptions): Promise<VirtualLan> {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > 254) {
    throw new Error(`createVirtualLan: hosts must be an integer 1-254, got ${hosts}`);
  }
  const subnet = opts?.subnet ?? DEFAULT_SUBNET;
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(subnet)) {
    throw new Error(`createVirtualLan: subnet must be three octets like '10.77.0', got '${subnet}'`);
  }
  const hostList: Host[] = Array.from({ length: hosts }, (_, i) => ({
    index: i + 1,
    name: `h${i + 1}`,
    address: `${subnet}.${i + 1}`,
  }));
  const deathGuard = hasSetpriv() ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
  const unshareArgs = ['-rnm', '--kill-child', 'sh', '-c', holderScript(hostList)];
  const [cmd, ...args] = [...deathGuard, 'unshare', ...unshareArgs] as [string, ...string[]];
  const unshare = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let unshareStderr = '';
  unshare.stderr!.setEncoding('utf8').on('data', (s: string) => (unshareStderr += s));
  const unshareExited = exitedPromise(unshare);

  const holderPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      killQuietly(unshare.pid);
      reject(new Error(`virtual LAN not ready after ${opts?.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms: ${unshareStderr.trim()}`));
    }, opts?.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    let out = '';
    unshare.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (!out.includes('ready')) return;
      clearTimeout(timer);
      const pid = unshare.pid === undefined ? undefined : readHolderPid(unshare.pid);
      if (pid === undefined) {
        killQuietly(unshare.pid);
        reject(new Error('virtual LAN: could not find the namespace holder process'));
      } else {
        resolve(pid);
      }
    });
    unshare.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`virtual LAN: cannot run ${cmd}: ${err.message}`));
    });
    unshare.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(
          `virtual LAN: unshare exited (${code ?? signal}) before the namespaces were ready: ` +
            `${unshareStderr.trim() || 'no message'} (user namespaces may be disabled: see /proc/sys/user/max_user_namespaces)`,
        ),
      );
    });
  });

  const children = new Set<ChildProcess>();
  const killAll = (): void => {
    for (const c of children) killQuietly(c.pid);
    killQuietly(holderPid);
    killQuietly(unshare.pid);
  };
  installExitHook();
  liveLans.add(killAll);
  let destroyed: Promise<void> | undefined;

  const resolveHost = (h: Host | number): Host => {
    const index = typeof h === 'number' ? h : h.index;
    const found = hostList[index - 1];
    if (!found) throw new Error(`virtual LAN has no host ${index} (it has h1-h${hostList.length})`);
    return found;
  };
  const enter = ['-t', String(holderPid), '-U', '-n', '-m', '--preserve-credentials'];
  const track = (child: ChildProcess): ChildProcess => {
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.once('error', () => children.delete(child));
    return child;
  };
  const spawnIn = (prefix: readonly string[], command: string, args: readonly string[], sopts?: SpawnOptions): ChildProcess => {
    if (destroyed) throw new Error('virtual LAN already destroyed');
    return track(spawn('nsenter', [...enter, ...prefix, ...deathGuard, command, ...args], sopts ?? {}));
  };
  const hostPrefix = (h: Host | number): string[] => ['ip', 'netns', 'exec', resolveHost(h).name];
  const setLink = async (h: Host | number, state: 'up' | 'down'): Promise<void> => {
    const r = await lan.execBridge('ip', ['link', 'set', `v${resolveHost(h).index}`, state]);
    if (r.code !== 0) throw new Error(`ip link set v${resolveHost(h).index} ${state} failed: ${r.stderr.trim()}`);
  };

  const lan: VirtualLan = {
    hosts: hostList,
    holderPid,
    host: resolveHost,
    exec: (h, command, args = [], eopts) =>
      collect(spawnIn(hostPrefix(h), command, args, { stdio: ['pipe', 'pipe', 'pipe'] }), eopts),
    execBridge: (command, args = [], eopts) => collect(spawnIn([], command, args, { stdio: ['pipe', 'pipe', 'pipe'] }), eopts),
    spawn: (h, command, args = [], sopts) => spawnIn(hostPrefix(h), command, args, sopts),
    linkDown: (h) => setLink(h, 'down'),
    linkUp: (h) => setLink(h, 'up'),
    destroy() {
      destroyed ??= (async () => {
        const waits = [...children].map(exitedPromise);
        for (const c of children) killQuietly(c.pid);
        await Promise.all(waits);
        killQuietly(holderPid);
        await unshareExited;
        liveLans.delete(killAll);
      })();
      return destroyed;
    },
  };
  return lan;
}

let probe: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

/**
 * Whether this machine lets us build a virtual LAN (user + network namespaces,
 * unshare, nsenter and ip present). Probed once per process by building a 1-host LAN.
 */
export function canCreateNamespaces(): Promise<{ ok: true } | { ok: false; reason: string }> {
  probe ??= (async () => {
    if (process.platform !== 'linux') return { ok: false as const, reason: `network namespaces need Linux (this is ${process.platform})` };
    let lan: VirtualLan | undefined;
    try {
      lan = await createVirtualLan(1);
      const r = await lan.exec(1, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
      if (r.code !== 0 || !r.stdout.includes(lan.hosts[0]!.address)) {
        return { ok: false as const, reason: `a virtual host did not get its address: ${r.stderr.trim() || r.stdout.trim()}` };
      }
      return { ok: true as const };
    } catch (err) {
      return { ok: false as const, reason: `cannot create network namespaces: ${(err as Error).message}` };
    } finally {
      await lan?.destroy();
    }
  })();
  return probe;
}
