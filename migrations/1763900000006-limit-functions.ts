/**
 * The PL/pgSQL functions of migration 1763900000006 (frozen with it: a later change is a new
 * migration that replaces them).
 *
 * Why functions: a decision about a key must read the key's holders and waiters *after* taking the
 * key's row lock. A single SQL statement reads with the snapshot it took when it started (before it
 * waited for the lock), so it could miss a holder committed meanwhile; each statement inside a
 * PL/pgSQL function takes a fresh snapshot. A function call is also one round trip, and it can run
 * inside the engine's statement that records a step or ends a pass.
 *
 * Lock order, everywhere: the run's own row (the fence or the pass-ending UPDATE), then the
 * `chrono_forge_limit_keys` rows sorted by (name, key) in byte order (`COLLATE "C"`). Nothing takes a run row lock while holding
 * a key lock: a waiter is woken by `pg_notify` (the wake listener enqueues it), not by an UPDATE.
 *
 * Limit configuration (`coalesce(override, declared)`): `{ "concurrency": n }` and/or
 * `{ "rate": [{ "limit": n, "per_ms": ms, "guard_ms": ms }, …] }`: a grant counts in its window for
 * `per_ms + guard_ms` (the guard keeps the bodies, which start a few ms after their grant, inside the
 * window even when an earlier one started later after its grant than a later one).
 */
export function limitFunctionsSql(s: string): string[] {
  const slots = `${s}.chrono_forge_limit_slots`;
  const keys = `${s}.chrono_forge_limit_keys`;
  const limits = `${s}.chrono_forge_limits`;
  const wf = `${s}.chrono_forge_workflows`;
  // NOTE: the wake listener's channel and payload (`<schema>:<run id>`, schema unquoted).
  const payloadPrefix = `${s.slice(1, -1)}:`;
  const live = `w.id = q.run_id AND w.state IN ('idle', 'running')`;
  const windowOf = (w: string) =>
    `((${w}->>'per_ms')::bigint + coalesce((${w}->>'guard_ms')::bigint, 0)) * interval '1 millisecond'`;

  const wake = `
    CREATE FUNCTION ${s}.chrono_forge_limit_wake(p_name text, p_key text) RETURNS integer
    LANGUAGE plpgsql AS $fn$
    DECLARE
      cfg jsonb;
      rec timestamptz[];
      avail integer := 2147483647;
      win jsonb;
      cnt integer;
      t timestamptz := clock_timestamp();
      r record;
      n integer := 0;
    BEGIN
      SELECT k.recent INTO rec FROM ${keys} k WHERE k.name = p_name AND k.key = p_key FOR UPDATE;
      SELECT coalesce(l.override, l.declared) INTO cfg FROM ${limits} l WHERE l.name = p_name;
      IF cfg IS NULL THEN RETURN 0; END IF;
      IF cfg->>'concurrency' IS NOT NULL THEN
        SELECT (cfg->>'concurrency')::integer - count(*) INTO avail FROM ${slots} q
          WHERE q.name = p_name AND q.key = p_key AND q.state = 'held';
      END IF;
      FOR win IN SELECT * FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) LOOP
        SELECT count(*) INTO cnt FROM unnest(coalesce(rec, '{}')) e
          WHERE e > t - ${windowOf('win')};
        avail := least(avail, (win->>'limit')::integer - cnt);
      END LOOP;
      IF avail <= 0 THEN RETURN 0; END IF;
      FOR r IN SELECT q.run_id FROM ${slots} q JOIN ${wf} w ON ${live}
          WHERE q.name = p_name AND q.key = p_key AND q.state = 'waiting'
          ORDER BY q.priority, q.id LIMIT avail LOOP
        PERFORM pg_notify('chronoforge_wake', '${payloadPrefix}' || r.run_id);
        n := n + 1;
      END LOOP;
      RETURN n;
    END
    $fn$`;

  // Admits the holder on every (p_names[i], p_keys[i]) at once, or on none (then it waits on the
  // keys that refused it).
  const acquire = `
    CREATE FUNCTION ${s}.chrono_forge_limit_acquire(p_run bigint, p_holder text, p_owner text,
        p_priority integer, p_names text[], p_keys text[])
      RETURNS TABLE (admitted boolean, blocked_name text, blocked_key text, ahead integer,
        wake_at timestamptz, waited_ms double precision, use_within_ms bigint,
        granted_at timestamptz)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      t timestamptz := clock_timestamp();
      n integer;
      i integer;
      cfg jsonb;
      rec timestamptz[];
      win jsonb;
      lim integer;
      per interval;
      cnt integer;
      k integer;
      avail integer;
      before_me integer;
      my_id bigint;
      my_state text;
      my_queued timestamptz;
      first_queued timestamptz;
      push boolean := false;
      rate_wake timestamptz;
      at_i timestamptz;
      mine_held boolean[] := '{}';
      blocked boolean[] := '{}';
      concs integer[] := '{}';
      keep integer[] := '{}';
      guards bigint[] := '{}';
      refused boolean := false;
    BEGIN
      admitted := true; blocked_name := NULL; blocked_key := NULL; ahead := 0;
      wake_at := NULL; waited_ms := 0; use_within_ms := NULL; granted_at := NULL;
      -- The lock order: distinct claims sorted by (name, key), byte order.
      SELECT coalesce(array_agg(u.nm ORDER BY u.nm COLLATE "C", u.ky COLLATE "C"), '{}'),
             coalesce(array_agg(u.ky ORDER BY u.nm COLLATE "C", u.ky COLLATE "C"), '{}')
        INTO p_names, p_keys
        FROM (SELECT DISTINCT x.nm, x.ky FROM unnest(p_names, p_keys) AS x(nm, ky)) u;
      n := cardinality(p_names);
      FOR i IN 1..n LOOP
        SELECT coalesce(l.override, l.declared) INTO cfg FROM ${limits} l WHERE l.name = p_names[i];
        IF cfg IS NULL THEN
          RAISE EXCEPTION 'unknown limit "%"', p_names[i] USING ERRCODE = 'CFL01';
        END IF;
        LOOP
          SELECT k.recent INTO rec FROM ${keys} k
            WHERE k.name = p_names[i] AND k.key = p_keys[i] FOR UPDATE;
          EXIT WHEN FOUND;
          INSERT INTO ${keys} (name, key) VALUES (p_names[i], p_keys[i]) ON CONFLICT DO NOTHING;
        END LOOP;
        concs[i] := (cfg->>'concurrency')::integer;
        SELECT max((w2->>'limit')::integer) INTO lim
          FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) w2;
        keep[i] := lim;
        guards[i] := (SELECT min(coalesce((w3->>'guard_ms')::bigint, 0))
          FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) w3);
        my_id := NULL; my_state := NULL; my_queued := NULL;
        SELECT q.id, q.state, q.queued_at INTO my_id, my_state, my_queued FROM ${slots} q
          WHERE q.name = p_names[i] AND q.key = p_keys[i] AND q.run_id = p_run AND q.holder = p_holder;
        IF my_queued IS NOT NULL THEN first_queued := least(first_queued, my_queued); END IF;
        mine_held[i] := my_state IS NOT DISTINCT FROM 'held';
        blocked[i] := false;
        CONTINUE WHEN mine_held[i];
        SELECT count(*) INTO before_me FROM ${slots} q JOIN ${wf} w ON ${live}
          WHERE q.name = p_names[i] AND q.key = p_keys[i] AND q.state = 'waiting'
            AND NOT (q.run_id = p_run AND q.holder = p_holder)
            AND (q.priority, q.id) < (p_priority, coalesce(my_id, 9223372036854775807));
        IF concs[i] IS NOT NULL THEN
          SELECT concs[i] - count(*) INTO avail FROM ${slots} q
            WHERE q.name = p_names[i] AND q.key = p_keys[i] AND q.state = 'held';
          IF avail <= before_me THEN blocked[i] := true; push := true; END IF;
        END IF;
        FOR win IN SELECT * FROM jsonb_array_elements(coalesce(cfg->'rate', '[]'::jsonb)) LOOP
          lim := (win->>'limit')::integer;
          per := ${windowOf('win')};
          SELECT count(*) INTO cnt FROM unnest(rec) e WHERE e > t - per;
          CONTINUE WHEN lim - cnt > before_me;
          blocked[i] := true;
          -- The grant that must leave the window before this waiter's turn (newest first), plus
          -- one window per full round of waiters ahead of it.
          k := lim - (before_me % lim);
          at_i := CASE WHEN k <= coalesce(cardinality(rec), 0) THEN rec[k] + per ELSE t END
            + (before_me / lim) * per;
          rate_wake := greatest(rate_wake, at_i);
        END LOOP;
        IF blocked[i] AND NOT refused THEN
          refused := true; blocked_name := p_names[i]; blocked_key := p_keys[i]; ahead := before_me;
        END IF;
      END LOOP;
      IF refused THEN
        FOR i IN 1..n LOOP
          CONTINUE WHEN NOT blocked[i];
          INSERT INTO ${slots} AS q (name, key, run_id, holder, state, owner, priority)
            VALUES (p_names[i], p_keys[i], p_run, p_holder, 'waiting', p_owner, p_priority)
            ON CONFLICT (name, key, run_id, holder)
            DO UPDATE SET owner = EXCLUDED.owner, priority = EXCLUDED.priority;
        END LOOP;
        admitted := false;
        wake_at := CASE WHEN push THEN NULL ELSE rate_wake END;
        RETURN NEXT;
        RETURN;
      END IF;
      FOR i IN 1..n LOOP
        IF mine_held[i] THEN
          UPDATE ${slots} SET owner = p_owner
            WHERE name = p_names[i] AND key = p_keys[i] AND run_id = p_run AND holder = p_holder;
          CONTINUE;
        END IF;
        IF concs[i] IS NOT NULL THEN
          INSERT INTO ${slots} AS q (name, key, run_id, holder, state, owner, priority, acquired_at)
            VALUES (p_names[i], p_keys[i], p_run, p_holder, 'held', p_owner, p_priority, t)
            ON CONFLICT (name, key, run_id, holder)
            DO UPDATE SET state = 'held', owner = EXCLUDED.owner, acquired_at = EXCLUDED.acquired_at;
        ELSE
          DELETE FROM ${slots}
            WHERE name = p_names[i] AND key = p_keys[i] AND run_id = p_run AND holder = p_holder;
        END IF;
        IF keep[i] IS NOT NULL THEN
          UPDATE ${keys} SET recent = (ARRAY[t] || recent)[1:keep[i]]
            WHERE name = p_names[i] AND key = p_keys[i];
          -- A rate grant must be used (its body started) within the window's guard.
          use_within_ms := least(use_within_ms, guards[i]);
          granted_at := t;
        END IF;
      END LOOP;
      waited_ms := coalesce(extract(epoch FROM t - first_queued) * 1000, 0);
      RETURN NEXT;
    END
    $fn$`;

  // p_mode 'step': frees the held slots of holders p_holders; 'pass': frees every held slot of the
  // run and drops the waits this pass (p_owner) did not renew; 'end': drops everything of the run.
  const cond = `q.run_id = p_run AND (p_mode = 'end'
      OR (q.state = 'held' AND (p_mode = 'pass' OR q.holder = ANY (p_holders)))
      OR (p_mode = 'pass' AND q.state = 'waiting' AND q.owner IS DISTINCT FROM p_owner))`;
  const release = `
    CREATE FUNCTION ${s}.chrono_forge_limit_release(p_run bigint, p_owner text, p_holders text[],
        p_mode text) RETURNS integer
    LANGUAGE plpgsql AS $fn$
    DECLARE
      r record;
      woken integer := 0;
    BEGIN
      FOR r IN SELECT q.name, q.key FROM ${slots} q WHERE ${cond} GROUP BY q.name, q.key ORDER BY q.name COLLATE "C", q.key COLLATE "C" LOOP
        PERFORM 1 FROM ${keys} k WHERE k.name = r.name AND k.key = r.key FOR UPDATE;
        DELETE FROM ${slots} q WHERE q.name = r.name AND q.key = r.key AND ${cond};
        woken := woken + ${s}.chrono_forge_limit_wake(r.name, r.key);
      END LOOP;
      RETURN woken;
    END
    $fn$`;
  // Frees a step's slots when its log is written (completed, or a failed attempt): the body ended.
  // Only logs the step runner flagged `limited` fire it.
  const stepEnded = `
    CREATE FUNCTION ${s}.chrono_forge_limit_step_ended() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM ${s}.chrono_forge_limit_release(NEW.workflow_id, NULL, ARRAY[NEW.step_name], 'step');
      RETURN NULL;
    END
    $fn$`;
  const stepTrigger = `
    CREATE TRIGGER chrono_forge_limit_step_ended
      AFTER INSERT OR UPDATE ON ${s}.chrono_forge_execution_logs
      FOR EACH ROW WHEN ((NEW.metadata->>'limited') IS NOT NULL)
      EXECUTE FUNCTION ${s}.chrono_forge_limit_step_ended()`;
  // Frees a pass's slots when the run's lock leaves it (the pass ended, was taken over, unlocked)
  // and drops everything of a run that leaves idle/running. Only runs that ever acquired fire it.
  const runMoved = `
    CREATE FUNCTION ${s}.chrono_forge_limit_run_moved() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM ${s}.chrono_forge_limit_release(OLD.id, OLD.locked_by, '{}',
        CASE WHEN NEW.state IN ('idle', 'running') THEN 'pass' ELSE 'end' END);
      RETURN NULL;
    END
    $fn$`;
  const runTrigger = `
    CREATE TRIGGER chrono_forge_limit_run_moved
      AFTER UPDATE OF locked_by, state ON ${wf}
      FOR EACH ROW WHEN (OLD.limited AND (
        (OLD.locked_by IS NOT NULL AND OLD.locked_by IS DISTINCT FROM NEW.locked_by)
        OR (OLD.state IN ('idle', 'running') AND NEW.state NOT IN ('idle', 'running'))))
      EXECUTE FUNCTION ${s}.chrono_forge_limit_run_moved()`;
  return [wake, acquire, release, stepEnded, stepTrigger, runMoved, runTrigger];
}
