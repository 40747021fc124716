import { type ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { InvalidOptionsError } from '../errors/invalid-options.error.js';

/** What `ctx.spawnEach()` can walk. @publicApi */
export type SpawnSource<T> =
  | Iterable<T>
  | AsyncIterable<T>
  | (T extends ObjectLiteral ? Repository<T> | SelectQueryBuilder<T> : never);

/** Resumable position of a spawnEach: items consumed and, for keyset sources, the last key. */
export interface SpawnCursor {
  n: number;
  pk?: string | number | null;
  done?: boolean;
}

/** One batch of items with their key suffix (primary key or index). */
export interface SpawnBatch<T> {
  items: Array<{ item: T; suffix: string }>;
  cursor: SpawnCursor;
}

/** Walks a TypeORM source by keyset on its single-column primary key, `of` rows at a time. */
async function* keysetBatches<T extends ObjectLiteral>(
  source: Repository<T> | SelectQueryBuilder<T>,
  of: number,
  start: SpawnCursor,
): AsyncGenerator<SpawnBatch<T>> {
  const qb = source instanceof Repository ? source.createQueryBuilder('item') : source.clone();
  if (Object.keys(qb.expressionMap.orderBys).length > 0) {
    throw new InvalidOptionsError('spawnEach walks a query by primary key; remove its ORDER BY.');
  }
  const meta = qb.expressionMap.mainAlias?.metadata;
  const pk = meta?.primaryColumns;
  if (!meta || !pk || pk.length !== 1) {
    throw new InvalidOptionsError('spawnEach needs an entity with a single-column primary key.');
  }
  const alias = qb.alias;
  const column = pk[0].propertyName;
  let last = start.pk ?? null;
  let n = start.n;
  for (;;) {
    const page = qb.clone().orderBy(`${alias}.${column}`, 'ASC').take(of);
    if (last !== null) {
      // The user's condition is bracketed first: `a OR b AND cursor` would be `a OR (b AND cursor)`.
      const own = page.expressionMap.wheres;
      if (own.length > 0) page.expressionMap.wheres = [{ type: 'simple', condition: own }];
      page.andWhere(`${alias}.${column} > :__cfCursor`, { __cfCursor: last });
    }
    const rows = await page.getMany();
    if (rows.length === 0) return;
    last = rows[rows.length - 1][column] as string | number;
    n += rows.length;
    yield {
      items: rows.map((row) => ({ item: row, suffix: String(row[column]) })),
      cursor: { n, pk: last },
    };
    if (rows.length < of) return;
  }
}

/** Walks an (async) iterable, skipping the `start.n` items already dispatched. */
async function* iterableBatches<T>(
  source: Iterable<T> | AsyncIterable<T>,
  of: number,
  start: SpawnCursor,
): AsyncGenerator<SpawnBatch<T>> {
  let index = 0;
  let batch: Array<{ item: T; suffix: string }> = [];
  for await (const item of source as AsyncIterable<T>) {
    if (index++ < start.n) continue;
    batch.push({ item, suffix: String(index - 1) });
    if (batch.length === of) {
      yield { items: batch, cursor: { n: index } };
      batch = [];
    }
  }
  if (batch.length > 0) yield { items: batch, cursor: { n: index } };
}

/** Batches of a spawn source from a saved cursor. */
export function spawnBatches<T>(
  source: SpawnSource<T>,
  of: number,
  start: SpawnCursor,
): AsyncGenerator<SpawnBatch<T>> {
  if (source instanceof Repository || source instanceof SelectQueryBuilder) {
    return keysetBatches(source as Repository<ObjectLiteral>, of, start) as AsyncGenerator<
      SpawnBatch<T>
    >;
  }
  if (source && (Symbol.iterator in Object(source) || Symbol.asyncIterator in Object(source))) {
    return iterableBatches(source as Iterable<T>, of, start);
  }
  throw new InvalidOptionsError(
    'spawnEach source must be an array, an (async) iterable, a TypeORM repository or query builder.',
  );
}
