// A Logger that keeps every line, for tests that assert what was logged and how often.
import type { Logger, LogMeta } from '../../src/util/log.js';

export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  message: string;
  meta?: LogMeta | undefined;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (message: string, meta?: LogMeta) => void lines.push({ level, message, meta });
  const l = { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => l };
  return l;
}
