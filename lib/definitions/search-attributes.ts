import { SearchAttributeError } from '../errors/search-attribute.error.js';
import { codeOf, controlCharOf } from '../util/control-chars.util.js';
import { describeValue } from '../util/describe.util.js';
import { unstorableText } from '../util/serialization.util.js';

/** The value of a search attribute. @publicApi */
export type AttributeValue = string | number | boolean;

/** A run's search attributes: indexed, filterable in `client.list`, the dashboard and the CLI. @publicApi */
export type SearchAttributes = Record<string, AttributeValue>;

/** What `ctx.setAttributes` takes: `null` removes the key. @publicApi */
export type SearchAttributesUpdate = Record<string, AttributeValue | null>;

/** Pattern of an attribute key. */
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Longest string value of an attribute. */
export const MAX_ATTRIBUTE_TEXT_LENGTH = 256;
/** Most attributes one run holds (and one call or filter names). */
export const MAX_ATTRIBUTES = 32;

/** A checked update: the entries to set and the keys to remove. */
export interface AttributeChange {
  set: SearchAttributes;
  remove: string[];
}

/**
 * Checks an update of `ctx.setAttributes` (`nulls`: `null` removes a key) or the attributes of a
 * start (`nulls: false`): a plain object of at most {@link MAX_ATTRIBUTES} keys, each matching
 * {@link ATTRIBUTE_KEY_PATTERN}, each value a string (≤ 256 characters, printable), a finite
 * number or a boolean. Throws `SearchAttributeError` on the first refused entry.
 */
export function checkAttributes(value: unknown, what: string, nulls: boolean): AttributeChange {
  const entries = plainEntries(value, what);
  const set: SearchAttributes = {};
  const remove: string[] = [];
  for (const [key, v] of entries) {
    if (v === null && nulls) remove.push(key);
    else set[key] = checkValue(key, v, what);
  }
  return { set, remove };
}

/** Checks a `list({ attributes })` filter: as a start's attributes, and at least one key. */
export function checkAttributeFilter(value: unknown, what: string): SearchAttributes {
  const { set } = checkAttributes(value, what, false);
  if (Object.keys(set).length === 0)
    throw new SearchAttributeError(`${what} needs at least one attribute.`);
  return set;
}

/**
 * One filter term from text (CLI `--attr`, the dashboard's `attr`): `key=text` matches the string
 * `text`; `key:=json` matches a JSON number or boolean (`amount:=42`, `vip:=true`).
 */
export function parseAttributeTerm(term: string, what: string): [string, AttributeValue] {
  const typed = /^([^=:]+):=(.*)$/s.exec(term);
  const plain = typed ? undefined : /^([^=]+)=(.*)$/s.exec(term);
  const match = typed ?? plain;
  if (!match) {
    throw new SearchAttributeError(
      `${what} ${describeValue(term)} is not key=value (text) or key:=value (number, true, false).`,
    );
  }
  const key = match[1].trim();
  let value: unknown = match[2];
  if (typed) {
    const raw = match[2].trim();
    value = raw === 'true' ? true : raw === 'false' ? false : raw === '' ? raw : Number(raw);
    if (typeof value !== 'boolean' && (raw === '' || !Number.isFinite(value)))
      throw new SearchAttributeError(`${what} "${key}:=${raw}" needs a number, true or false.`);
  }
  checkKey(key, what);
  return [key, checkValue(key, value, what)];
}

/**
 * Parses filter terms (see {@link parseAttributeTerm}) into one filter: runs must match them all.
 * `undefined` when there are none.
 */
export function parseAttributeTerms(
  terms: readonly string[] | undefined,
  what: string,
): SearchAttributes | undefined {
  if (terms === undefined || terms.length === 0) return undefined;
  if (terms.length > MAX_ATTRIBUTES)
    throw new SearchAttributeError(`${what}: at most ${MAX_ATTRIBUTES} attribute filters.`);
  const filter: SearchAttributes = {};
  for (const [key, value] of terms.map((t) => parseAttributeTerm(t, what))) {
    // Runs must match every term: two values of one key never both match.
    if (Object.hasOwn(filter, key) && filter[key] !== value)
      throw new SearchAttributeError(`${what} gives "${key}" twice, with different values.`);
    filter[key] = value;
  }
  return filter;
}

/** One attribute as the filter term that matches it (`customerId=c-42`, `amount:=42`). */
export function attributeTerm(key: string, value: AttributeValue): string {
  return typeof value === 'string' ? `${key}=${value}` : `${key}:=${String(value)}`;
}

/** Attributes as filter terms (`customerId=c-42 amount:=42`), the way the CLI and dashboard read them. */
export function formatAttributes(attributes: SearchAttributes): string {
  return Object.entries(attributes)
    .map(([k, v]) => attributeTerm(k, v))
    .join(' ');
}

function plainEntries(value: unknown, what: string): Array<[string, unknown]> {
  const tag = Object.prototype.toString.call(value);
  if (typeof value !== 'object' || value === null || tag !== '[object Object]') {
    throw new SearchAttributeError(
      `${what} takes a plain object of attributes, got ${describeValue(value)}.`,
    );
  }
  let entries: Array<[string, unknown]>;
  try {
    entries = Object.keys(value).map((k) => [k, (value as Record<string, unknown>)[k]]);
  } catch (err) {
    throw new SearchAttributeError(`${what} could not be read: ${(err as Error)?.message}`, {
      cause: err,
    });
  }
  if (entries.length > MAX_ATTRIBUTES)
    throw new SearchAttributeError(
      `${what} has ${entries.length} attributes; at most ${MAX_ATTRIBUTES} are allowed.`,
    );
  for (const [key] of entries) checkKey(key, what);
  return entries;
}

function checkKey(key: string, what: string): void {
  // An assignment of "__proto__" changes the object's prototype instead of adding the key.
  if (key === '__proto__')
    throw new SearchAttributeError(`${what}: attribute key "__proto__" is reserved.`);
  if (!ATTRIBUTE_KEY_PATTERN.test(key)) {
    throw new SearchAttributeError(
      `${what}: attribute key ${describeValue(key)} must match ${ATTRIBUTE_KEY_PATTERN.source} (a letter or _, then letters, digits, _ . -; at most 64 characters).`,
    );
  }
}

function checkValue(key: string, value: unknown, what: string): AttributeValue {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new SearchAttributeError(`${what}: attribute "${key}" must be a finite number.`);
    return value;
  }
  if (typeof value !== 'string') {
    throw new SearchAttributeError(
      `${what}: attribute "${key}" must be a string, number or boolean, got ${describeValue(value)}.`,
    );
  }
  if (value.length > MAX_ATTRIBUTE_TEXT_LENGTH)
    throw new SearchAttributeError(
      `${what}: attribute "${key}" is longer than ${MAX_ATTRIBUTE_TEXT_LENGTH} characters.`,
    );
  const why = unstorableText(value);
  if (why) throw new SearchAttributeError(`${what}: attribute "${key}" ${why}.`);
  const char = controlCharOf(value);
  if (char !== undefined)
    throw new SearchAttributeError(
      `${what}: attribute "${key}" contains the control character ${codeOf(char)}.`,
    );
  return value;
}
