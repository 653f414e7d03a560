/**
 * What the panel's views say, from the rows and a step's detail: pure, the widget's words
 * (nbflow/widget/static/widget.js), so jest tests them and the panel reads like `%flow show`.
 */

import { IStepDetail, IStepRow } from './protocol';
import { formatDuration } from './reducer';

/** The widget's order of states, for counts. */
export const ORDER = [
  'pending',
  'waiting',
  'queued',
  'running',
  'retrying',
  'succeeded',
  'restored',
  'failed',
  'upstream-failed',
  'skipped',
  'cancelled',
  'stale',
  'interrupted'
];
const DONE = new Set([
  'succeeded',
  'restored',
  'failed',
  'upstream-failed',
  'skipped',
  'cancelled'
]);

export interface ITally {
  counts: [string, number][];
  done: number;
  total: number;
}

/** Steps per state (in the widget's order) and how many are done. */
export function tally(rows: Iterable<IStepRow>): ITally {
  const counts = new Map<string, number>();
  let done = 0;
  let total = 0;
  for (const row of rows) {
    total += 1;
    counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
    if (DONE.has(row.state)) {
      done += 1;
    }
  }
  const ordered = ORDER.filter(s => counts.has(s)).map(
    s => [s, counts.get(s) ?? 0] as [string, number]
  );
  return { counts: ordered, done, total };
}

/** A node's second line, as the widget draws it: "restored · 1.2s · 3 tries". */
export function detailLine(row: IStepRow): string {
  const parts: string[] = [];
  if (row.state === 'restored') {
    parts.push('↺ restored');
  }
  if (row.duration !== undefined && row.duration !== null) {
    parts.push(formatDuration(row.duration));
  }
  if (row.attempts > 1) {
    parts.push(`${row.attempts} tries`);
  }
  if (!parts.length && row.state !== 'pending') {
    parts.push(row.state);
  }
  return parts.join(' · ');
}

/** The detail pane's provenance line: computed or restored and when, time taken, attempts, saving. */
export function provenance(d: IStepDetail): string {
  const facts: string[] = [];
  if (d.restored) {
    // the loaded checkpoint's own figures, worded as in the step's cell
    facts.push(`restored: ${d.restored}`);
  } else if (d.source) {
    facts.push(
      d.ended
        ? `${d.source} at ${new Date(d.ended * 1000).toLocaleString()}`
        : d.source
    );
  }
  if (!d.restored && d.duration !== undefined && d.duration !== null) {
    facts.push(`took ${formatDuration(d.duration)}`);
  }
  if (d.attempts && d.attempts.length > 1) {
    facts.push(`${d.attempts.length} attempts`);
  }
  if (!d.restored && d.time_saved) {
    facts.push(`saved ${formatDuration(d.time_saved)}`);
  }
  if (d.checkpoint) {
    facts.push(`checkpoint ${d.checkpoint}`);
  }
  if (d.not_restorable) {
    facts.push(`not restorable: ${d.not_restorable}`);
  }
  return facts.join(' · ');
}

/** Each failed attempt of a step tried more than once: "attempt 2: ValueError: x", with its traceback. */
export function failedAttempts(
  d: IStepDetail
): { number: number; error: string; traceback: string }[] {
  const attempts = d.attempts ?? [];
  if (attempts.length < 2) {
    return [];
  }
  return attempts
    .filter(a => a[3])
    .map(([number, , , error, traceback]) => ({ number, error, traceback }));
}
