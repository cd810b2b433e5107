// One error type for everything the API (or the road to it) can answer.

export type ErrorDetails = Record<string, unknown>;

/** Codes the app makes itself, for answers that never carried an envelope. */
export const NETWORK_UNREACHABLE = 'NETWORK_UNREACHABLE';
export const UNEXPECTED_RESPONSE = 'UNEXPECTED_RESPONSE';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorDetails;
  /** Seconds from `Retry-After`, when the server sent one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: number, code: string, message: string, details: ErrorDetails = {}, retryAfterSeconds?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** The server could not be reached at all (offline, DNS, connection refused). */
  get unreachable(): boolean {
    return this.code === NETWORK_UNREACHABLE;
  }

  /** Trying the very same request again may work (nothing was decided). */
  get retryable(): boolean {
    return (
      this.unreachable ||
      this.status === 503 ||
      this.status === 429 ||
      this.code === 'IDEMPOTENCY_IN_FLIGHT' ||
      this.status === 502 ||
      this.status === 504
    );
  }

  static unreachable(cause?: unknown): ApiError {
    const error = new ApiError(0, NETWORK_UNREACHABLE, 'the server could not be reached');
    if (cause !== undefined) (error as { cause?: unknown }).cause = cause;
    return error;
  }

  /** From an answer's status, headers and parsed body (anything: it may not be our envelope). */
  static fromResponse(response: Response, body: unknown): ApiError {
    const retryAfter = Number(response.headers.get('retry-after'));
    const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
    if (isEnvelope(body)) {
      return new ApiError(response.status, body.code, body.message, isRecord(body.details) ? body.details : {}, retryAfterSeconds);
    }
    return new ApiError(response.status, UNEXPECTED_RESPONSE, `unexpected answer (${response.status})`, {}, retryAfterSeconds);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEnvelope(body: unknown): body is { code: string; message: string; details?: unknown } {
  return isRecord(body) && typeof body.code === 'string' && typeof body.message === 'string';
}

/** Anything thrown → an ApiError (a TypeError from fetch means the network failed). */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof TypeError) return ApiError.unreachable(error);
  if (error instanceof DOMException && error.name === 'AbortError') return ApiError.unreachable(error);
  return new ApiError(0, 'UNKNOWN', error instanceof Error ? error.message : String(error));
}
