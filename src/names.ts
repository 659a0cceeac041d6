// Names: how node names are made. A node is called NAME@HOST; `--sname NAME` (and
// shortName() in the library) appends this machine's short host name, as Erlang's
// -sname does.
// Invariant: shortHostname() returns a valid HOST part (letters, digits, '_' and '-';
// never empty).
import { hostname } from 'node:os';
import { ClusterError } from './errors.js';
import { isValidNodeName } from './wire/messages.js';

/** The short host name: the first label of the machine's host name, with anything outside A-Za-z0-9_- replaced by '-'. */
export function shortHostname(): string {
  const h = (hostname().split('.')[0] ?? '').replace(/[^A-Za-z0-9_-]/g, '-');
  return h || 'localhost';
}

/** The full node name for a short one, as --sname makes it: shortName('alice') is 'alice@<short host name>'. Throws ERR_CONFIG on a name that cannot be one. */
export function shortName(sname: string): string {
  const name = `${sname}@${shortHostname()}`;
  if (!/^[A-Za-z0-9_.-]+$/.test(sname) || !isValidNodeName(name)) {
    throw new ClusterError('ERR_CONFIG', `"${sname}" cannot make a node name: letters, digits, '.', '_' and '-' only, and NAME@HOST at most 255 characters`);
  }
  return name;
}
