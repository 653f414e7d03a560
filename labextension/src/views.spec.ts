/** The panel's words: counts, a node's second line, the detail pane's provenance and attempts. */

import { IStepDetail } from './protocol';
import { detailLine, failedAttempts, provenance, tally } from './views';

describe('tally', () => {
  it('counts per state in the widget’s order, and the done ones', () => {
    const t = tally([
      { name: 'a', state: 'succeeded', attempts: 1 },
      { name: 'b', state: 'failed', attempts: 2 },
      { name: 'c', state: 'running', attempts: 1 },
      { name: 'd', state: 'succeeded', attempts: 1 }
    ]);
    expect(t.counts).toEqual([
      ['running', 1],
      ['succeeded', 2],
      ['failed', 1]
    ]);
    expect(t.done).toBe(3);
    expect(t.total).toBe(4);
  });
});

describe('detailLine', () => {
  it('says what the widget’s node says', () => {
    expect(
      detailLine({ name: 'a', state: 'restored', attempts: 1, duration: 1.2 })
    ).toBe('↺ restored · 1.2s');
    expect(
      detailLine({ name: 'a', state: 'failed', attempts: 3, duration: 0.5 })
    ).toBe('500ms · 3 tries');
    expect(detailLine({ name: 'a', state: 'pending', attempts: 0 })).toBe('');
    expect(detailLine({ name: 'a', state: 'queued', attempts: 0 })).toBe(
      'queued'
    );
  });
});

describe('the detail pane', () => {
  const detail: IStepDetail = {
    name: 'fit',
    state: 'failed',
    source: 'computed',
    duration: 2,
    attempts: [
      [1, 1, 2, 'ValueError: one', 'Traceback 1'],
      [2, 3, 4, 'ValueError: two', 'Traceback 2']
    ],
    checkpoint: 'abc',
    not_restorable: ''
  };
  it('lists the provenance facts', () => {
    expect(provenance(detail)).toBe(
      'computed · took 2.0s · 2 attempts · checkpoint abc'
    );
    expect(provenance({ name: 'x' })).toBe('');
  });
  it('lists each failed attempt only when there were several', () => {
    expect(failedAttempts(detail)).toEqual([
      { number: 1, error: 'ValueError: one', traceback: 'Traceback 1' },
      { number: 2, error: 'ValueError: two', traceback: 'Traceback 2' }
    ]);
    expect(
      failedAttempts({ ...detail, attempts: [[1, 1, 2, 'E', 'T']] })
    ).toEqual([]);
  });
});

describe('a restored step', () => {
  it('says its checkpoint’s own provenance instead of this run’s duration', () => {
    expect(
      provenance({
        name: 'report',
        source: 'restored',
        duration: 0.01,
        time_saved: 3.9,
        restored: 'computed 2026-12-01 14:03 in 4.0s, saved 3.9s',
        checkpoint: 'k'
      })
    ).toBe(
      'restored: computed 2026-12-01 14:03 in 4.0s, saved 3.9s · checkpoint k'
    );
  });
});
