// Log: the narrow Logger port the library writes to, and its winston adapter (the
// only importer of winston). Logs go to stderr so stdout carries only demo lines.
// Invariants: callers never pass a cookie, key or nonce-derived secret in meta; no
// line written holds a control character, ANSI escape or line separator, whatever a
// peer put in a string that reached the message or meta (cleanText escapes them), so
// a peer cannot forge log lines or drive the terminal.
import winston from 'winston';
import { cleanText } from './untrusted.js';

/** Structured log fields; values must be plain data. */
export type LogMeta = Record<string, unknown>;

/** The log levels the library uses, most severe first. */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** What every part of the library logs through. */
export interface Logger {
  error(message: string, meta?: LogMeta): void;
  warn(message: string, meta?: LogMeta): void;
  info(message: string, meta?: LogMeta): void;
  debug(message: string, meta?: LogMeta): void;
  /** A logger that adds meta to every line. */
  child(meta: LogMeta): Logger;
}

/** A logger that drops everything (library default when none is given). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};

/** Options for createLogger. */
export interface LoggerOptions {
  /** Least severe level written; default 'info'. */
  level?: LogLevel;
  /** 'pretty' (human, one line each) or 'json' (one JSON object per line); default 'pretty'. */
  format?: 'pretty' | 'json';
  /** Where lines go; default process.stderr. */
  stream?: NodeJS.WritableStream;
}

/** The log levels accepted on the command line. */
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Longest string value written in a log line, in characters (longer ones are cut with a note). */
const MAX_LOGGED_CHARS = 2000;

/** A logfmt value: bare when it can be, else double-quoted with quotes and backslashes escaped. */
export function logfmtValue(text: string): string {
  return text === '' || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text;
}

function formatMeta(meta: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) continue;
    parts.push(`${cleanText(k, 64)}=${logfmtValue(cleanText(typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v), MAX_LOGGED_CHARS))}`);
  }
  return parts.length ? ' ' + parts.join(' ') : '';
}

/** Escapes unprintable characters in the message and in string meta values (JSON lines too). */
const sanitize = winston.format((info) => {
  const rec = info as Record<string | symbol, unknown>;
  if (typeof rec.message === 'string') rec.message = cleanText(rec.message, MAX_LOGGED_CHARS);
  for (const k of Object.keys(rec)) {
    const v = rec[k];
    if (k !== 'message' && typeof v === 'string') rec[k] = cleanText(v, MAX_LOGGED_CHARS);
  }
  return info;
});

/** A winston-backed Logger writing to stderr (or the given stream). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(sanitize(), winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          sanitize(),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf((info) => {
            const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
            return `${String(timestamp)} ${String(level).padEnd(5)} ${String(message)}${formatMeta(rest)}`;
          }),
        );
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    format,
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
  return wrap(logger);
}

/**
 * Our Logger over a winston logger. A line below the logger's level is dropped before
 * winston sees it: winston would run it through the whole format (escaping, timestamp,
 * JSON) only for its transport to drop it, and the debug lines of mDNS and the mesh were
 * ~2 % of the CPU 50 nodes spend forming.
 */
function wrap(w: winston.Logger): Logger {
  return {
    error: (m, meta) => void (w.isLevelEnabled('error') && w.error(m, meta ?? {})),
    warn: (m, meta) => void (w.isLevelEnabled('warn') && w.warn(m, meta ?? {})),
    info: (m, meta) => void (w.isLevelEnabled('info') && w.info(m, meta ?? {})),
    debug: (m, meta) => void (w.isLevelEnabled('debug') && w.debug(m, meta ?? {})),
    child: (meta) => wrap(w.child(meta)),
  };
}
