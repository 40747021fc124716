import { type Program, stateKey, type StepNode, type Stmt } from './program.js';

/** The program as the TypeScript a user would write (printed on failure). */
export function printProgram(p: Program): string {
  const lines: string[] = [];
  const step = (s: StepNode) => {
    const flaky =
      (s.flaky ? ` /* throws ${s.flaky}x */` : '') +
      (s.race
        ? ` /* works until a second pass runs it too (at most ${s.ms} ms), then ends with it */`
        : s.ms
          ? ` /* works ${s.ms} ms${s.align ? `, then to the next ${s.align} ms tick` : ''} */`
          : '');
    if (s.via === 'inline')
      return `ctx.step('s_${s.id}', body${p.saga ? ', { compensate: undo }' : ''})${flaky}`;
    if (s.via === 'tx') return `this.steps.${p.saga ? 'sagaTxWork' : 'txWork'}('${s.id}')${flaky}`;
    return `this.steps.${p.saga ? 'sagaWork' : 'work'}('${s.id}')${flaky}`;
  };
  if (p.lease)
    lines.push(`  // fuzz.lease: maxDuration 250ms, passes are taken over while they run`);
  if (p.saga)
    lines.push(
      `  // fuzz.saga: steps undone (ledger <id>.undo) on a stall or a cancel, last first`,
    );
  const emit = (stmts: Stmt[], pad: string) => {
    for (const s of stmts) {
      switch (s.k) {
        case 'step':
          lines.push(`${pad}await ${step(s)};`);
          break;
        case 'broken':
          lines.push(`${pad}await this.steps.broken('${s.id}'); // fails until fixed + retried`);
          break;
        case 'all':
          lines.push(`${pad}await Promise.all([${s.items.map(step).join(', ')}]); // ${s.id}`);
          break;
        case 'try':
          lines.push(`${pad}try { // ${s.id}`);
          emit(s.body, `${pad}  `);
          lines.push(
            s.mode === 'all'
              ? `${pad}} catch {} // catch-all, swallows`
              : `${pad}} catch (e) { if (!(e instanceof ExecutionFailedError)) throw e; }`,
          );
          break;
        case 'loop': {
          const call = `this.steps.${s.tx ? 'txWork' : 'work'}(\`${s.id}.\${i}\`) /* works ${s.ms} ms */`;
          lines.push(
            s.guard
              ? `${pad}for (let i = 0; i < ${s.count}; i++) try { await ${call}; } catch {}`
              : `${pad}for (let i = 0; i < ${s.count}; i++) await ${call};`,
          );
          break;
        }
        case 'sleep':
          lines.push(`${pad}await ctx.sleep('${s.ms}ms'); // ${s.id}`);
          break;
        case 'wakeMiss':
          lines.push(
            `${pad}if (++reached${s.id} === 2) throw new Error('transient'); // ${s.id}: the wake-up pass misses the sleep`,
            `${pad}await ctx.sleep('${s.ms}ms');`,
          );
          break;
        case 'signal':
          lines.push(`${pad}await ctx.waitForSignal('g_${s.id}'); // sent at +${s.sendAfterMs} ms`);
          break;
        case 'repeat':
          lines.push(
            `${pad}await this.ticker.tick({ node: '${s.id}', ticks: ${s.ticks} }); // @Repeat('100ms')`,
          );
          break;
        case 'call':
          lines.push(
            `${pad}await ctx.call('fuzz.child', { node: '${s.id}.c0' }, { key: 'c_${s.id}' });`,
          );
          break;
        case 'branch':
          lines.push(
            `${pad}await this.fan({ node: '${s.id}', children: ${s.children}, each: ${s.each} }); await ctx.merge('fan');`,
          );
          break;
        case 'nested':
          lines.push(
            `${pad}await this.steps.outer('${s.id}', '${s.innerId}'); // calls steps.work inside`,
          );
          break;
        case 'set':
          lines.push(
            s.inStep
              ? `${pad}await ctx.step('st_${s.id}', () => ctx.state.set('k_${s.id}', 'v_${s.id}'));`
              : `${pad}ctx.state.set('k_${s.id}', 'v_${s.id}');`,
          );
          break;
        case 'attr':
          lines.push(
            s.inStep
              ? `${pad}await ctx.step('sa_${s.id}', () => ctx.setAttributes({ a_${s.id}: 'v_${s.id}' }));`
              : `${pad}await ctx.setAttributes({ a_${s.id}: 'v_${s.id}' });`,
          );
          break;
        case 'get':
          lines.push(`${pad}ctx.state.get('${stateKey(s.ref)}'); // ${s.id}`);
          break;
        case 'limited':
          lines.push(
            `${pad}await ctx.step('l_${s.id}', body /* works ${s.ms} ms */, { limit: { name: 'fuzz.${s.limit}', key: 'k${s.key}' } });`,
          );
          break;
        case 'once':
          lines.push(`${pad}await ctx.once('o${s.key}', '1h', () => this.steps.work('${s.id}'));`);
          break;
        case 'throwOnce':
          lines.push(`${pad}if (firstTime('${s.id}')) throw new Error('transient');`);
          break;
      }
    }
  };
  emit(p.body, '  ');
  return `${lines.join('\n')}\n  faults: ${JSON.stringify(p.faults)}`;
}
