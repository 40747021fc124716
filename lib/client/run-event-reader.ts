import { Observable } from 'rxjs';
import { EVENT_PREFIX } from '../context/event-recorder.js';
import type { WorkflowState } from '../database/entities/workflow.entity.js';
import { assertSelector } from '../definitions/client-arguments.js';
import { EventNotSetError } from '../errors/event-not-set.error.js';
import { EventTimeoutError } from '../errors/event-timeout.error.js';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';
import { WorkflowNotFoundError } from '../errors/workflow-not-found.error.js';
import type { WorkflowStore } from '../persistence/workflow.store.js';
import { type Duration, toMs } from '../util/duration.util.js';
import { assertUserName } from '../util/names.util.js';
import { deserializeValue, type StoredValue } from '../util/serialization.util.js';
import type { RunQueries } from './run-queries.js';
import type { RunSelector } from './start-options.js';

/**
 * One update of `client.watch(key)`: an event the run set (`ctx.setEvent`), a durable call it
 * completed (`step`: the step log's name, e.g. `step$charge`, `wait$coolOff`) or its new state.
 * Shaped as Nest's `MessageEvent` so an `@Sse()` handler can
 * return the Observable as is: `type` is the SSE event name, `id` its id, `data` its JSON.
 *
 * @publicApi
 */
export type RunUpdate =
  | { type: 'state'; id: string; data: { key: string; state: WorkflowState } }
  | { type: 'event'; id: string; data: { key: string; name: string; value: unknown } }
  | { type: 'step'; id: string; data: { key: string; step: string } };

/** Options of `client.watch(key)`. @publicApi */
export interface WatchOptions extends RunSelector {
  /** How often the run is read. @default '500ms' */
  every?: Duration;
}

/** States after which a watch completes (those in which `handle.result()` stops waiting). */
const FINAL: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'stalled',
  'cancelled',
  'compensated',
]);

interface EventRow {
  id: string;
  step_name: string;
  result: StoredValue | null;
}

/** `client.getEvent` and `client.watch`: reads the events `ctx.setEvent` recorded. */
export class RunEventReader {
  private readonly latestSql: string;
  private readonly allSql: string;

  constructor(
    private readonly store: WorkflowStore,
    private readonly runs: RunQueries,
  ) {
    const { logs } = store;
    const named = `workflow_id = $1 AND state = 'completed' AND (step_name = $2 OR starts_with(step_name, $2 || '#'))`;
    const nth = `COALESCE(NULLIF(split_part(step_name, '#', 2), '')::int, 1)`;
    // NOTE: the run's state and its latest event are read in one snapshot: a run seen ended with
    // no event never set it (an end commits after every event the run set).
    this.latestSql =
      `SELECT w.state, l.id, l.step_name, l.result FROM ${store.wf} w LEFT JOIN LATERAL ` +
      `(SELECT id, step_name, result FROM ${logs} WHERE ${named} ORDER BY ${nth} DESC, id DESC LIMIT 1) l ` +
      'ON true WHERE w.id = $1';
    this.allSql =
      // Only an event's value is read: other step results can be large and are not streamed.
      `SELECT l.id, l.step_name, CASE WHEN starts_with(l.step_name, '${EVENT_PREFIX}') THEN l.result END AS result, ` +
      `w.state FROM ${store.wf} w LEFT JOIN ${logs} l ON l.workflow_id = w.id ` +
      `AND l.state = 'completed' AND l.id <> ALL ($2::bigint[]) ` +
      'WHERE w.id = $1 ORDER BY l.id';
  }

  async get<T>(
    key: string,
    name: string,
    options: { timeout?: Duration } & RunSelector,
  ): Promise<T> {
    assertSelector(options, 'getEvent');
    assertUserName(name, 'Event');
    const timeoutMs = toMs(options.timeout ?? '60s', 'getEvent timeout');
    const { id } = await this.runs.find(key, options.workflow);
    const deadline = Date.now() + timeoutMs;
    let delay = 20;
    for (;;) {
      const [row] = await this.store.query<{
        state: WorkflowState;
        id: string | null;
        result: StoredValue | null;
      }>(this.latestSql, [id, EVENT_PREFIX + name]);
      if (!row) throw new WorkflowNotFoundError(`Run "${key}" no longer exists.`);
      if (row.id !== null) return deserializeValue<T>(row.result as StoredValue);
      if (FINAL.has(row.state)) throw new EventNotSetError(key, name, row.state);
      if (Date.now() >= deadline) throw new EventTimeoutError(key, name, timeoutMs);
      await sleep(Math.min(delay, Math.max(1, deadline - Date.now())));
      delay = Math.min(delay * 2, 500);
    }
  }

  watch(key: string, options: WatchOptions): Observable<RunUpdate> {
    assertSelector(options, 'watch');
    const { every, ...selector } = options;
    const everyMs = toMs(every ?? '500ms', 'watch every');
    if (everyMs < 10) throw new InvalidOptionsError('watch() option every must be at least 10 ms.');
    return new Observable<RunUpdate>((subscriber) => {
      let closed = false;
      const seen = new Set<string>();
      let state: string | undefined;
      const poll = async (id: string): Promise<void> => {
        while (!closed) {
          const rows = await this.store.query<EventRow & { state: WorkflowState }>(this.allSql, [
            id,
            [...seen],
          ]);
          for (const row of rows) {
            if (row.id === null || seen.has(row.id)) continue;
            seen.add(row.id);
            if (!row.step_name.startsWith(EVENT_PREFIX)) {
              const data = { key, step: row.step_name };
              subscriber.next({ type: 'step', id: `c${row.id}`, data });
              continue;
            }
            const name = row.step_name.slice(EVENT_PREFIX.length).replace(/#\d+$/, '');
            const value = deserializeValue(row.result as StoredValue);
            subscriber.next({ type: 'event', id: `e${row.id}`, data: { key, name, value } });
          }
          const now = rows[0]?.state;
          if (now !== undefined && now !== state) {
            state = now;
            subscriber.next({
              type: 'state',
              id: `s${seen.size}-${now}`,
              data: { key, state: now },
            });
          }
          if (now === undefined || FINAL.has(now)) break;
          await sleep(everyMs);
        }
        subscriber.complete();
      };
      this.runs
        .find(key, selector.workflow)
        .then((row) => poll(row.id))
        .catch((err: unknown) => subscriber.error(err));
      return () => {
        closed = true;
      };
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
