import type { INestApplicationContext } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { IsInt } from 'class-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InputValidationError,
  Workflow,
  WorkflowClient,
  WorkflowNotFoundError,
} from '../../lib/index.js';
import { bootApp } from '../support/app.js';
import { cleanup, sql, uniqueName } from '../support/env.js';

class ChargeInput {
  @IsInt() cents: number;
}

@Injectable()
class TypedStartWorkflows {
  @Workflow('typed.charge', { input: ChargeInput })
  async charge(input: ChargeInput): Promise<number> {
    return input.cents;
  }

  @Workflow('typed.ping')
  async ping(input?: { note: string }): Promise<string> {
    return input?.note ?? 'pong';
  }

  /** An ordinary method, not a workflow. */
  async helper(input: ChargeInput): Promise<number> {
    return input.cents;
  }
}

describe('typed start: WorkflowClient.start(Class, method, options)', () => {
  const schema = uniqueName('cf_typed');
  const queueName = uniqueName('typed');
  let app: INestApplicationContext;
  let client: WorkflowClient;

  beforeAll(async () => {
    app = await bootApp({ schema, queueName, providers: [TypedStartWorkflows] });
    client = app.get(WorkflowClient);
  });

  afterAll(async () => {
    await app?.close();
    await cleanup(schema, queueName);
  });

  it('should require `input` at compile time when the method takes one (and refuse it at run time)', async () => {
    // The line below must not compile: `tsc -p tsconfig.json` fails on an unused directive.
    // @ts-expect-error input is required: charge(input: ChargeInput)
    const omitted = client.start(TypedStartWorkflows, 'charge', { key: 'no-input' });
    await expect(omitted).rejects.toBeInstanceOf(InputValidationError);
    const handle = await client.start(TypedStartWorkflows, 'charge', {
      key: 'with-input',
      input: { cents: 250 },
    });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe(250);
    expect(await sql(`SELECT key FROM "${schema}".chrono_forge_workflows ORDER BY key`)).toEqual([
      { key: 'with-input' },
    ]);
  });

  it('should let `input` be omitted when the parameter is optional', async () => {
    const handle = await client.start(TypedStartWorkflows, 'ping', { key: 'ping' });
    await expect(handle.result({ timeout: '15s' })).resolves.toBe('pong');
  });

  it('should name Class#method plainly when the method is not a workflow', async () => {
    const error = await client
      .start(TypedStartWorkflows, 'helper', { key: 'helper', input: { cents: 1 } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(WorkflowNotFoundError);
    expect((error as Error).message).toMatch(
      /^No workflow "TypedStartWorkflows#helper" is registered in this application\. Known: .*typed\.charge/,
    );
  });
});
