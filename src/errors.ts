// Errors: one class, ClusterError, with a stable machine-readable code per failure
// mode and the underlying error as `cause`. Codes never change meaning once released.

/** Every error code the library raises or logs. */
export type ErrorCode =
  | 'ERR_CONFIG'
  | 'ERR_AUTH_FAILED'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_BAD_FRAME'
  | 'ERR_DECRYPT'
  | 'ERR_VERSION_MISMATCH'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_NAME_IN_USE'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_LISTEN'
  | 'ERR_NOT_STARTED'
  | 'ERR_NO_SUCH_NAME'
  | 'ERR_CALL_TIMEOUT'
  | 'ERR_CALL_FAILED'
  | 'ERR_NOT_HOLDER'
  | 'ERR_BAD_MESSAGE'
  | 'ERR_HIDDEN'
  | 'ERR_ETCD_UNREACHABLE'
  | 'ERR_ETCD_RESPONSE';

/** An error with a stable `code`; `cause` carries the underlying error, if any. */
export class ClusterError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClusterError';
    this.code = code;
  }
}

/** True when err is a ClusterError with the given code. */
export function isClusterError(err: unknown, code?: ErrorCode): err is ClusterError {
  return err instanceof ClusterError && (code === undefined || err.code === code);
}

/** A short, log-safe description of any thrown value (an Error's message; otherwise only the value's type). */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return `a thrown ${err === null ? 'null' : typeof err}`;
}
