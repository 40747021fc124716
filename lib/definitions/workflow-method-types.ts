/** Method names of `T` that return a promise (candidate workflow methods). @publicApi */
export type WorkflowMethodOf<T> = {
  [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof T] &
  string;
/** Input type of a workflow method. @publicApi */
export type WorkflowInputOf<F> = F extends (input: infer I, ...rest: never[]) => unknown
  ? I
  : never;
/** Result type of a workflow method. @publicApi */
export type WorkflowResultOf<F> = F extends (...args: never[]) => Promise<infer R> ? R : never;
