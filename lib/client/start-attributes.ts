import { checkAttributes, type SearchAttributes } from '../definitions/search-attributes.js';

/** The checked `attributes` of a start (`{}` when none; `SearchAttributeError` when refused). */
export function startAttributes(value: unknown): SearchAttributes {
  return value === undefined ? {} : checkAttributes(value, 'start() attributes', false).set;
}
