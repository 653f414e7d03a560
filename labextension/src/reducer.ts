/**
 * The badges' state: kernel messages folded into one picture, and each badge's text.
 *
 * Pure functions (no DOM, no kernel), so the message handling is testable alone.
 */

import {
  BYE,
  IStepRow,
  KernelMessage,
  SNAPSHOT,
  UPDATE,
  VERSION
} from './protocol';

export interface IFlowState {
  /** a snapshot has been received: the rows are whole */
  synced: boolean;
  active: boolean;
  seq: number;
  steps: Map<string, IStepRow>;
  saved: number;
  palette: { [state: string]: [string, string] };
}

export function emptyState(): IFlowState {
  return {
    synced: false,
    active: false,
    seq: 0,
    steps: new Map(),
    saved: 0,
    palette: {}
  };
}

/** The state after `message`, and whether the front end must ask for a snapshot (a gap in `seq`). */
export function reduce(
  state: IFlowState,
  message: KernelMessage
): { state: IFlowState; resync: boolean } {
  if (!message || message.version !== VERSION) {
    return { state, resync: false };
  }
  switch (message.type) {
    case SNAPSHOT:
      return {
        state: {
          synced: true,
          active: message.active,
          seq: message.seq,
          steps: new Map(Object.entries(message.steps)),
          saved: message.saved,
          palette: message.palette || {}
        },
        resync: false
      };
    case UPDATE: {
      if (!state.synced || message.seq !== state.seq + 1) {
        return { state, resync: true };
      }
      const steps = new Map(state.steps);
      for (const [name, row] of Object.entries(message.steps)) {
        steps.set(name, row);
      }
      for (const name of message.removed) {
        steps.delete(name);
      }
      return {
        state: {
          ...state,
          active: true,
          seq: message.seq,
          steps,
          saved: message.saved
        },
        resync: false
      };
    }
    case BYE:
      return { state: emptyState(), resync: false };
    default:
      return { state, resync: false };
  }
}

/** `850ms`, `12.3s`, `4m05s`, `1h02m`: nbflow.core.durations.format_duration, in TypeScript. */
export function formatDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || isNaN(seconds)) {
    return '';
  }
  const millis = Math.round(seconds * 1000);
  if (millis < 1000) {
    return `${millis}ms`;
  }
  const tenths = seconds.toFixed(1);
  if (parseFloat(tenths) < 60) {
    return `${tenths}s`;
  }
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const secs = total % 60;
  if (minutes < 60) {
    return `${minutes}m${String(secs).padStart(2, '0')}s`;
  }
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

export interface IBadge {
  text: string;
  title: string;
  state: string;
}

/** What a step's badge says, and what its hover shows. */
export function badge(row: IStepRow): IBadge {
  const parts = [row.state];
  if (row.state === 'restored') {
    if (row.time_saved !== undefined) {
      parts.push(`saved ${formatDuration(Math.max(row.time_saved, 0))}`);
    }
  } else if (row.state === 'stale') {
    if (row.reason) {
      parts[0] = `stale: ${row.reason}`;
    }
  } else {
    if (row.attempts > 1) {
      parts.push(`${row.attempts} attempts`);
    }
    if (row.duration !== undefined) {
      parts.push(formatDuration(row.duration));
    }
  }
  const title = row.error || row.reason || `${row.name}: ${row.state}`;
  return { text: parts.join(' · '), title, state: row.state };
}

/** "nbflow: 2 running · 14/20 done" */
export function summary(state: IFlowState): string {
  let running = 0;
  let done = 0;
  let failed = 0;
  for (const row of state.steps.values()) {
    if (row.state === 'running' || row.state === 'retrying') {
      running += 1;
    } else if (row.state === 'succeeded' || row.state === 'restored') {
      done += 1;
    } else if (row.state === 'failed' || row.state === 'upstream_failed') {
      failed += 1;
    }
  }
  const parts: string[] = [];
  if (running) {
    parts.push(`${running} running`);
  }
  if (failed) {
    parts.push(`${failed} failed`);
  }
  parts.push(`${done}/${state.steps.size} done`);
  return `nbflow: ${parts.join(' · ')}`;
}

/** Each cell id's step row (a cell defines at most one step; the last one wins). */
export function rowsByCell(state: IFlowState): Map<string, IStepRow> {
  const byCell = new Map<string, IStepRow>();
  for (const row of state.steps.values()) {
    if (row.cell) {
      byCell.set(row.cell, row);
    }
  }
  return byCell;
}
