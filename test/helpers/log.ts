// A logger that keeps what it is told, for tests that read the log.
import type { Log } from '../../robots/log.ts';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  data: object;
}

export function recordingLog(lines: LogLine[] = []): Log & { lines: LogLine[] } {
  const at = (level: LogLine['level']) => (data: object, msg: string) => void lines.push({ level, msg, data });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
