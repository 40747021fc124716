import { Injectable } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsDate, IsIn, IsString, MinLength } from 'class-validator';
import { describe, expect, it } from 'vitest';
import {
  InputValidationError,
  Workflow,
  WorkflowContext,
  WorkflowFailedError,
} from '../../lib/index.js';
import { sql } from '../support/env.js';
import { suiteApp } from '../support/suite.js';

class DeliveredDto {
  @IsString()
  @MinLength(2)
  by!: string;

  @IsDate()
  @Type(() => Date)
  at!: Date;

  /** A method: only an instance of the DTO has it. */
  summary(): string {
    return `${this.by}@${this.at.toISOString()}`;
  }
}

class RatingDto {
  @IsIn([1, 2, 3, 4, 5])
  stars!: number;
}

@Injectable()
class ValidatedSignalWorkflows {
  constructor(private readonly ctx: WorkflowContext) {}

  @Workflow('vsig.order', { signals: { delivered: DeliveredDto } })
  async order(): Promise<unknown> {
    const delivered = await this.ctx.waitForSignal('delivered', { payload: DeliveredDto });
    const note = await this.ctx.waitForSignal<string>('note'); // undeclared: any payload
    await this.ctx.sleep('10ms', 'replay'); // the next pass replays both from their step logs
    return {
      isDto: delivered instanceof DeliveredDto,
      summary: delivered.summary(),
      note,
    };
  }

  /** Waits with a DTO the workflow does not declare: refused before the wait takes its name. */
  @Workflow('vsig.undeclared', { signals: { delivered: DeliveredDto } })
  async undeclared(): Promise<unknown> {
    return this.ctx.waitForSignal('rating', { payload: RatingDto });
  }
}

describe('validated signals: @Workflow({ signals }) and waitForSignal({ payload }) (e2e)', () => {
  const suite = suiteApp('vsig', [ValidatedSignalWorkflows]);
  const signalsOf = (key: string) =>
    sql<{ name: string }>(
      `SELECT s.name FROM "${suite.schema}".chrono_forge_signals s
       JOIN "${suite.schema}".chrono_forge_workflows w ON w.id = s.workflow_id WHERE w.key = $1`,
      [key],
    );

  it('should refuse an invalid payload with InputValidationError and store nothing', async () => {
    const { client } = suite;
    await client.start('vsig.order', { key: 'order-bad' });
    const refused = await client.signal('order-bad', 'delivered', { by: 'x', at: 'soon' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(InputValidationError);
    expect(refused).toMatchObject({ workflow: 'vsig.order', signal: 'delivered' });
    expect((refused as InputValidationError).messages).toEqual([
      'by must be longer than or equal to 2 characters',
      'at must be a Date instance',
    ]);
    expect((refused as Error).message).toMatch(
      /^Invalid payload of signal "delivered" for workflow "vsig\.order": /,
    );
    await expect(client.signal('order-bad', 'delivered')).rejects.toThrow(
      /payload must be an object matching DeliveredDto/,
    );
    await expect(client.signal('order-bad', 'delivered', ['a'])).rejects.toBeInstanceOf(
      InputValidationError,
    );
    expect(await signalsOf('order-bad')).toEqual([]);
    await client.cancel('order-bad');
  });

  it('should store a valid payload and hand the workflow an instance of its DTO', async () => {
    const { client } = suite;
    const handle = await client.start('vsig.order', { key: 'order-ok' });
    const at = new Date('2026-12-04T10:00:00.000Z');
    await client.signal('order-ok', 'delivered', { by: 'courier', at });
    await client.signal('order-ok', 'note', 'left at the door');
    await expect(handle.result({ timeout: '20s' })).resolves.toEqual({
      isDto: true,
      summary: 'courier@2026-12-04T10:00:00.000Z',
      note: 'left at the door',
    });
  });

  it('should fail a run whose waitForSignal names a DTO its @Workflow does not declare', async () => {
    const handle = await suite.client.start('vsig.undeclared', { key: 'undeclared' });
    const error = await handle.result({ timeout: '20s' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect((error as Error).message).toContain(
      'InvalidOptionsError: waitForSignal("rating", { payload: RatingDto }) of workflow "vsig.undeclared" needs the DTO declared on the workflow',
    );
    expect((error as Error).message).toContain('@Workflow({ signals: { rating: RatingDto } })');
  });
});
