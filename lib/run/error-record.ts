import { storableText } from '../util/serialization.util.js';
import type { ErrorRecord } from '../persistence/rows.js';

const MAX_CONTEXT_BYTES = 64 * 1024;

/** Snapshot of durable state for an error log: whole values while they fit in 64 KB. */
function contextSnapshot(context: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let budget = MAX_CONTEXT_BYTES;
  try {
    for (const [k, v] of Object.entries(context)) {
      const size = Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8');
      if (size > budget) out[k] = '<<omitted>>';
      else {
        out[k] = v;
        budget -= size;
      }
    }
    return out;
  } catch {
    return { _truncated: true };
  }
}

/** Converts anything thrown into the row an error log stores. */
export function toErrorRecord(err: unknown, context: Record<string, unknown> | null): ErrorRecord {
  const e =
    err instanceof Error
      ? err
      : new Error(typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err)));
  return {
    // The class name is the user's text too (`err.name = …`): stored like the message.
    errorClass: storableText(
      String(
        e.constructor?.name && e.constructor.name !== 'Error'
          ? e.constructor.name
          : e.name || 'Error',
      ),
    ),
    message: storableText(String(e.message).slice(0, 10_000)),
    backtrace: e.stack
      ? storableText(
          e.stack
            .split('\n')
            .slice(1, 40)
            .map((l) => l.trim())
            .join('\n'),
        )
      : null,
    context: context ? contextSnapshot(context) : null,
  };
}
