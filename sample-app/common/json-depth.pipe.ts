import {
  type ArgumentMetadata,
  BadRequestException,
  Injectable,
  type PipeTransform,
} from '@nestjs/common';

/** Deepest request body accepted: the same bound ChronoForge puts on stored values. */
export const MAX_BODY_DEPTH = 1000;

/** How deeply `value` nests, counted without recursion (so a hostile body cannot overflow the stack). */
function depthOf(value: unknown, stopAt: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > stopAt) return deepest;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Answers 400 to a request body nested deeper than {@link MAX_BODY_DEPTH} levels before any other
 * pipe walks it: class-transformer and class-validator recurse and would overflow the stack (500).
 */
@Injectable()
export class JsonDepthPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && depthOf(value, MAX_BODY_DEPTH) > MAX_BODY_DEPTH)
      throw new BadRequestException(
        `The request body is nested deeper than ${MAX_BODY_DEPTH} levels.`,
      );
    return value;
  }
}
