/** The badge reducer and texts: kernel messages folded as the badges see them. */

import { IStepRow, ISnapshot, IUpdate, VERSION } from './protocol';
import {
  badge,
  emptyState,
  formatDuration,
  reduce,
  rowsByCell,
  summary
} from './reducer';

function snapshot(seq: number, steps: { [name: string]: IStepRow }): ISnapshot {
  return {
    type: 'snapshot',
    version: VERSION,
    seq,
    active: true,
    steps,
    saved: 0,
    palette: { failed: ['#ef4444', '#ffffff'] }
  };
}

function update(
  seq: number,
  steps: { [name: string]: IStepRow },
  removed: string[] = []
): IUpdate {
  return { type: 'update', version: VERSION, seq, steps, removed, saved: 1.5 };
}

const load: IStepRow = {
  name: 'load',
  state: 'running',
  attempts: 1,
  cell: 'c1'
};

describe('reduce', () => {
  it('replaces everything on a snapshot and applies updates in order', () => {
    let { state } = reduce(emptyState(), snapshot(4, { load }));
    expect(state.synced).toBe(true);
    expect(state.steps.get('load')?.state).toBe('running');
    ({ state } = reduce(
      state,
      update(5, { load: { ...load, state: 'succeeded', duration: 0.25 } })
    ));
    expect(state.seq).toBe(5);
    expect(state.saved).toBe(1.5);
    expect(state.steps.get('load')?.state).toBe('succeeded');
    ({ state } = reduce(state, update(6, {}, ['load'])));
    expect(state.steps.size).toBe(0);
  });

  it('asks for a snapshot after a gap, and before any snapshot', () => {
    const first = reduce(emptyState(), update(1, { load }));
    expect(first.resync).toBe(true);
    expect(first.state.steps.size).toBe(0);
    const { state } = reduce(emptyState(), snapshot(1, { load }));
    const gap = reduce(state, update(3, {}));
    expect(gap.resync).toBe(true);
    expect(gap.state).toBe(state);
  });

  it('ignores a version it does not know, and empties on bye', () => {
    const { state } = reduce(emptyState(), snapshot(1, { load }));
    const newer = { ...update(2, {}, ['load']), version: VERSION + 1 };
    expect(reduce(state, newer).state).toBe(state);
    const bye = reduce(state, { type: 'bye', version: VERSION });
    expect(bye.state.steps.size).toBe(0);
    expect(bye.state.synced).toBe(false);
  });
});

describe('badge', () => {
  it('says state, attempts and duration; restored and stale say more', () => {
    expect(
      badge({ name: 'a', state: 'succeeded', attempts: 1, duration: 1.23 }).text
    ).toBe('succeeded · 1.2s');
    expect(
      badge({
        name: 'a',
        state: 'failed',
        attempts: 3,
        duration: 0.5,
        error: 'ValueError: x'
      })
    ).toEqual({
      text: 'failed · 3 attempts · 500ms',
      title: 'ValueError: x',
      state: 'failed'
    });
    expect(
      badge({
        name: 'a',
        state: 'restored',
        attempts: 1,
        source: 'restored',
        time_saved: 192
      }).text
    ).toBe('restored · saved 3m12s');
    expect(
      badge({ name: 'a', state: 'stale', attempts: 1, reason: 'raw changed' })
        .text
    ).toBe('stale: raw changed');
  });

  it('writes durations as nbflow does', () => {
    expect(formatDuration(0.9996)).toBe('1.0s');
    expect(formatDuration(59.97)).toBe('1m00s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(undefined)).toBe('');
  });
});

describe('summary and cells', () => {
  it('counts running, failed and done', () => {
    const { state } = reduce(
      emptyState(),
      snapshot(1, {
        a: { name: 'a', state: 'running', attempts: 1, cell: 'c1' },
        b: { name: 'b', state: 'succeeded', attempts: 1, cell: 'c2' },
        c: { name: 'c', state: 'restored', attempts: 1 },
        d: { name: 'd', state: 'failed', attempts: 1, cell: 'c4' }
      })
    );
    expect(summary(state)).toBe('nbflow: 1 running · 1 failed · 2/4 done');
    expect([...rowsByCell(state).keys()]).toEqual(['c1', 'c2', 'c4']);
  });
});
