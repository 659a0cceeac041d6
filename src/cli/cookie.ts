// Cookie sources, as Erlang has them: the command line (--cookie), a file (--cookie-file),
// the environment (CLUSTER_NODE_COOKIE), and when none is given a cookie file in the
// home directory (~/.cluster-node.cookie, like ~/.erlang.cookie). `cluster-node cookie
// --new` writes a random one there with mode 600.
// Invariants: a cookie file readable by anyone but its owner is refused, saying why and
// how to fix it; a blank cookie is refused; the cookie never appears in a message.
import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The cookie file read when no cookie is given: in the home directory. */
export const HOME_COOKIE_FILE = '.cluster-node.cookie';

/** Where the home cookie file is for this environment ($HOME, else the OS's idea of home). */
export function homeCookiePath(env: NodeJS.ProcessEnv): string {
  return join(env.HOME || homedir(), HOME_COOKIE_FILE);
}

/** What the user gave. */
export interface CookieInputs {
  cookie: string | undefined;
  cookieFile: string | undefined;
  env: NodeJS.ProcessEnv;
}

/** The cookie, or the sentence saying why there is none. */
export type CookieOutcome = { cookie: string; source: string } | { error: string };

/** How to give a cookie, for error messages. */
export const COOKIE_HOWTO = `--cookie SECRET, --cookie-file PATH, CLUSTER_NODE_COOKIE=SECRET, or a file ~/${HOME_COOKIE_FILE} (make one with: cluster-node cookie --new)`;

function fromFile(path: string, what: string, checkMode: boolean): CookieOutcome {
  let text: string;
  try {
    if (checkMode) {
      const mode = statSync(path).mode & 0o777;
      if (mode & 0o077) {
        return { error: `${what} ${path} can be read by others (mode ${mode.toString(8)}); the cookie is a secret: run chmod 600 ${path}` };
      }
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { error: `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  if (text.trim() === '') return { error: `${what} ${path} is empty` };
  const first = (text.split(/\r?\n/)[0] ?? '').trim();
  if (!first) return { error: `${what} ${path}: its first line is blank (the cookie is the file's first line)` };
  return { cookie: first, source: `${what} ${path}` };
}

/** Find the cookie among the sources, in order: --cookie, --cookie-file, $CLUSTER_NODE_COOKIE, ~/.cluster-node.cookie. */
export function resolveCookie(i: CookieInputs): CookieOutcome {
  if (i.cookie !== undefined && i.cookieFile !== undefined) return { error: 'give either --cookie or --cookie-file, not both' };
  if (i.cookie !== undefined) {
    if (i.cookie.trim() === '') return { error: '--cookie is blank; give the cluster\'s shared secret' };
    return { cookie: i.cookie, source: '--cookie' };
  }
  if (i.cookieFile !== undefined) return fromFile(i.cookieFile, '--cookie-file', false);
  const fromEnv = i.env.CLUSTER_NODE_COOKIE;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.trim() === '') return { error: 'CLUSTER_NODE_COOKIE is blank; give the cluster\'s shared secret' };
    return { cookie: fromEnv, source: 'CLUSTER_NODE_COOKIE' };
  }
  const home = homeCookiePath(i.env);
  let exists = false;
  try {
    statSync(home);
    exists = true;
  } catch {
    exists = false;
  }
  if (exists) return fromFile(home, 'the cookie file', true);
  return { error: `a cookie is required: ${COOKIE_HOWTO}` };
}

/** Bytes of randomness in a new cookie (256 bits, 43 characters of base64url). */
export const NEW_COOKIE_BYTES = 32;

/**
 * Write a new random cookie to path with mode 600, refusing to replace an existing file
 * unless force. Returns the path, or throws with what went wrong (never the cookie).
 */
export function writeNewCookie(path: string, force: boolean): string {
  const cookie = randomBytes(NEW_COOKIE_BYTES).toString('base64url');
  let fd: number;
  try {
    fd = openSync(path, force ? 'w' : 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new Error(`${path} exists; nodes using it would no longer join the cluster. Use --force to replace it`);
    throw new Error(`cannot write ${path}: ${code ?? 'error'}`);
  }
  try {
    // A file that existed keeps its mode with 'w': make it private before the secret goes in.
    fchmodSync(fd, 0o600);
    writeSync(fd, `${cookie}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return path;
}
