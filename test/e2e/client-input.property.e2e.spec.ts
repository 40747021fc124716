import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { IsInt, IsString, MaxLength } from 'class-validator';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChronoForgeError,
  InvalidTransitionError,
  Workflow,
  WorkflowClient,
  WorkflowContext,
} from '../../lib/index.js';
import { serializeValue } from '../../lib/util/serialization.util.js';
import { bootApp } from '../support/app.js';
import { cleanup, DATABASE_URL, eventually, uniqueName } from '../support/env.js';

class PropsInput {
  @IsString() @MaxLength(20) name: string;
  @IsInt() n: number;
}

@Injectable()
class PropsWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('props.echo')
  async echo(input: unknown): Promise<unknown> {
    return input;
  }

  @Workflow('props.wait')
  async wait(): Promise<unknown> {
    return this.ctx.waitForSignal('go', { timeout: '1h' });
  }

  @Workflow('props.dto', { input: PropsInput })
  async dto(input: PropsInput): Promise<number> {
    return input.n;
  }
}

const WORKFLOWS = ['props.echo', 'props.wait', 'props.dto'] as const;

/** Values that are not JSON, or that PostgreSQL cannot store. */
function hostileValues(): fc.Arbitrary<unknown> {
  const circular = () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = { back: o };
    return o;
  };
  const deep = (levels: number) => {
    let v: unknown = 1;
    for (let i = 0; i < levels; i++) v = { v };
    return v;
  };
  const throwingGetter = () =>
    Object.defineProperty({}, 'boom', {
      enumerable: true,
      get: () => {
        throw new Error('getter exploded');
      },
    });
  return fc.oneof(
    fc.constant(() => 1).map((f) => ({ f })),
    fc.constant(null).map(circular),
    fc.constant(null).map(() => deep(1_500)),
    fc.constant(null).map(throwingGetter),
    fc.constantFrom(Symbol('s'), 10n, { n: 2n ** 70n }, 'nul\u0000', { 'k\u0000': 1 }),
    fc.constantFrom('\ud800', ['x\udc00y'], { s: 'a\udbff' }),
    fc.constant('x'.repeat(1024 * 1024 + 1)),
  );
}

/** Anything a caller might pass: JSON, rich JS values, hostile values. */
const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue() },
  {
    weight: 2,
    arbitrary: fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
      withObjectString: true,
    }),
  },
  { weight: 1, arbitrary: hostileValues() },
);

/** Run keys, names and selectors: valid-looking, arbitrary unicode, and hostile. */
const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', 'a\u0000b', '\ud800', 'x'.repeat(513), 'a$b', 'a#b', '%', '_', "'; --"),
);
const anyKey = fc.oneof({ weight: 5, arbitrary: anyText }, { weight: 1, arbitrary: anyValue });
const anySelector = fc.oneof(
  fc.constant(undefined),
  fc.record({ workflow: fc.oneof(fc.constantFrom(...WORKFLOWS), anyText) }, { requiredKeys: [] }),
  anyValue,
);

describe('client input handling, property-based (e2e)', () => {
  const schema = uniqueName('cf_props');
  const queueName = uniqueName('q_props');
  let app: INestApplicationContext;
  let client: WorkflowClient;
  const wf = `"${schema}".chrono_forge_workflows`;
  const db = new pg.Client({ connectionString: DATABASE_URL });
  const sql = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> =>
    (await db.query<R>(text)).rows;

  /** Every stored column of the reference runs, their step logs and signals. */
  const snapshot = () =>
    sql(
      `SELECT w.*, (SELECT json_agg(l ORDER BY l.id) FROM "${schema}".chrono_forge_execution_logs l
                    WHERE l.workflow_id = w.id) AS logs,
              (SELECT json_agg(s ORDER BY s.id) FROM "${schema}".chrono_forge_signals s
                    WHERE s.workflow_id = w.id) AS signals
       FROM ${wf} w WHERE key LIKE 'ref:%' ORDER BY key`,
    );
  let reference: unknown[];

  /** Runs `call`: it must succeed or throw a ChronoForgeError; anything else fails the property. */
  async function settle<T>(
    call: () => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: ChronoForgeError }> {
    try {
      return { ok: true, value: await call() };
    } catch (error) {
      if (error instanceof ChronoForgeError) {
        expect(error.code).toMatch(/^CHRONOFORGE_[A-Z_]+$/);
        expect(error.message.length).toBeGreaterThan(10);
        return { ok: false, error };
      }
      throw error;
    }
  }

  beforeAll(async () => {
    await db.connect();
    app = await bootApp({ schema, queueName, providers: [PropsWorkflows] });
    client = app.get(WorkflowClient);
    await (await client.start('props.echo', { key: 'ref:done', input: { a: [1, 'b'] } })).result();
    await client.start('props.dto', { key: 'ref:dto', input: { name: 'x', n: 1 } });
    await client.start('props.wait', { key: 'ref:wait' });
    await eventually(async () => {
      const runs = await client.list({ keyPrefix: 'ref:' });
      const wait = await client.get('ref:wait');
      return (
        runs.every((r) => r.state !== 'running') && wait.steps.length > 0 && wait.state === 'idle'
      );
    });
    await eventually(async () => (await client.get('ref:dto')).state === 'completed');
    reference = await snapshot();
  });

  afterAll(async () => {
    await db.end();
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should start a run with any name, key and input, or refuse with a ChronoForgeError', async () => {
    const started = new Map<string, unknown>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...WORKFLOWS), anyText, anyValue),
        anyKey,
        fc.oneof(anyValue, fc.record({ name: fc.string(), n: fc.integer() })),
        async (name, key, input) => {
          const start = client.start.bind(client) as (n: unknown, o: unknown) => Promise<unknown>;
          const outcome = await settle(() => start(name, { key, input }));
          if (!outcome.ok) return;
          expect(WORKFLOWS).toContain(name);
          // Stored as given (as JSON), and a second start with the same key returns that run.
          const id = `${String(name)}/${String(key)}`;
          // NOTE: `has`, not `??`: a first start with input null stored null, which a later start
          // of the key must find (`??` took the later start's input as the expected one).
          const expected = started.has(id)
            ? started.get(id)
            : JSON.parse(JSON.stringify(input ?? null));
          started.set(id, expected);
          const run = await client.get(key as string, { workflow: name as string });
          expect(run.key).toBe(key);
          expect(run.input).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
    expect(await snapshot()).toEqual(reference);
  });

  it('should store any signal payload faithfully, or refuse it with a ChronoForgeError', async () => {
    await client.start('props.wait', { key: 'p:target' });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constant('p:target'), anyKey),
        fc.oneof(fc.constant('go'), anyText, anyValue),
        anyValue,
        anySelector,
        async (key, name, payload, selector) => {
          const [{ count: before }] = await sql<{ count: string }>(
            `SELECT count(*) FROM "${schema}".chrono_forge_signals`,
          );
          const signal = client.signal.bind(client) as (...a: unknown[]) => Promise<void>;
          const outcome = await settle(() => signal(key, name, payload, selector));
          const rows = await sql<{ name: string; payload: unknown; key: string }>(
            `SELECT s.name, s.payload, w.key FROM "${schema}".chrono_forge_signals s
             JOIN ${wf} w ON w.id = s.workflow_id ORDER BY s.id DESC LIMIT 1`,
          );
          const [{ count: after }] = await sql<{ count: string }>(
            `SELECT count(*) FROM "${schema}".chrono_forge_signals`,
          );
          if (!outcome.ok) {
            expect(after).toBe(before); // nothing stored
            return;
          }
          expect(Number(after)).toBe(Number(before) + 1);
          expect(rows[0]).toMatchObject({ key, name });
          const stored = JSON.parse(JSON.stringify(serializeValue(payload ?? null)));
          expect(rows[0].payload).toEqual(stored);
        },
      ),
      { numRuns: 150 },
    );
    expect(await snapshot()).toEqual(reference);
  });

  it('should list with a filter that has other getters, reading only its own fields', async () => {
    const filter = Object.defineProperty({ limit: 5 }, 'boom', {
      enumerable: true,
      get: () => {
        throw new Error('getter exploded');
      },
    });
    expect(Array.isArray(await client.list(filter))).toBe(true);
  });

  it('should answer get, retry, resume and cancel with any key and options, or a ChronoForgeError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('get', 'retry', 'resume', 'cancel', 'handle', 'list'),
        fc.oneof(fc.constantFrom('ref:done', 'ref:dto', 'ref:wait'), anyKey),
        anySelector,
        async (action, key, selector) => {
          const call = (client[action] as (...a: unknown[]) => Promise<unknown>).bind(client);
          const isRef = typeof key === 'string' && key.startsWith('ref:');
          // Waking or cancelling the waiting reference run would change it legitimately.
          if ((action === 'resume' || action === 'cancel') && key === 'ref:wait') return;
          const outcome = await settle(() =>
            action === 'list' ? call(selector) : call(key, selector),
          );
          if (isRef && (action === 'retry' || action === 'cancel') && !outcome.ok) {
            const refused = outcome.error instanceof InvalidTransitionError;
            const badSelector =
              outcome.error.code === 'CHRONOFORGE_INVALID_OPTIONS' ||
              outcome.error.code === 'CHRONOFORGE_WORKFLOW_NOT_FOUND';
            expect(refused || badSelector).toBe(true);
          }
          // Completed runs can be neither retried nor cancelled.
          if (isRef && (action === 'retry' || action === 'cancel')) expect(outcome.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
    expect(await snapshot()).toEqual(reference);
  });
});
