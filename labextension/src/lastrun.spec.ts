/** The greyed badges' words, from the REST API's answer. */

import { ago, lastRunBadge, recordedByCell } from './lastrun';

describe('ago', () => {
  it('says how long ago, coarsely', () => {
    expect(ago(5)).toBe('just now');
    expect(ago(5 * 60 + 10)).toBe('5 min ago');
    expect(ago(2 * 3600 + 100)).toBe('2 h ago');
    expect(ago(3 * 86400)).toBe('3 days ago');
  });
});

describe('recordedByCell', () => {
  it('keys the recorded steps by cell id, leaving out those without one', () => {
    const byCell = recordedByCell({
      steps: [
        { name: 'a', state: 'succeeded', cell: 'c-a', ended: 100 },
        { name: 'py', state: 'succeeded', cell: null },
        { name: 'b' }
      ]
    });
    expect([...byCell.keys()]).toEqual(['c-a']);
    expect(recordedByCell(null).size).toBe(0);
    expect(recordedByCell({ steps: 'no' }).size).toBe(0);
  });
});

describe('lastRunBadge', () => {
  it('says when the step last ran and how it ended', () => {
    const now = 10_000;
    expect(
      lastRunBadge({ name: 'a', state: 'succeeded', ended: now - 7300 }, now)
    ).toEqual({
      text: 'last run 2 h ago: succeeded',
      title: 'a: succeeded when it last ran (no live kernel yet)',
      state: 'succeeded'
    });
    const failed = lastRunBadge(
      {
        name: 'b',
        state: 'failed',
        updated: now - 30,
        error: 'ValueError: x\nmore'
      },
      now
    );
    expect(failed.text).toBe('last run just now: failed');
    expect(failed.title).toBe('ValueError: x');
  });
});
