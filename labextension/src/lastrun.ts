/**
 * A notebook's last recorded run, from the server extension's REST API
 * (`GET /nbflow/api/flows/<path>`, docs/guide/jupyterlab.md "The REST API"):
 * what the greyed badges show before a kernel with nbflow has sent its snapshot.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IBadge } from './reducer';

/** A step as the REST API records it (the fields the badge needs). */
export interface IRecordedStep {
  name: string;
  state: string;
  cell?: string | null;
  ended?: number | null;
  updated?: number | null;
  error?: string | null;
}

/** "just now", "5 min ago", "2 h ago", "3 days ago". */
export function ago(seconds: number): string {
  if (seconds < 60) {
    return 'just now';
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return `${hours} h ago`;
  }
  return `${Math.floor(hours / 24)} days ago`;
}

/** Each cell id's recorded step, from the API's answer. */
export function recordedByCell(answer: any): Map<string, IRecordedStep> {
  const byCell = new Map<string, IRecordedStep>();
  const steps = answer && Array.isArray(answer.steps) ? answer.steps : [];
  for (const step of steps as IRecordedStep[]) {
    if (step && step.cell && step.name && step.state) {
      byCell.set(step.cell, step);
    }
  }
  return byCell;
}

/** A greyed badge: "last run 2 h ago: succeeded", the first line of the error on hover. */
export function lastRunBadge(step: IRecordedStep, nowSeconds: number): IBadge {
  const when = step.ended ?? step.updated;
  const time = when
    ? `last run ${ago(Math.max(nowSeconds - when, 0))}`
    : 'last run';
  const error = step.error ? step.error.split('\n')[0] : '';
  return {
    text: `${time}: ${step.state}`,
    title:
      error ||
      `${step.name}: ${step.state} when it last ran (no live kernel yet)`,
    state: step.state
  };
}

/** The notebook at `path`'s recorded steps by cell id; empty when it has no store, or on any error.
 *
 * The listing is asked first: a notebook never run with nbflow is not in it, and asking for it
 * by name would be a 404, which the browser logs as a console error. */
export async function fetchLastRun(
  path: string
): Promise<Map<string, IRecordedStep>> {
  const settings = ServerConnection.makeSettings();
  const base = URLExt.join(settings.baseUrl, 'nbflow/api/flows');
  try {
    const listing = await ServerConnection.makeRequest(base, {}, settings);
    if (!listing.ok) {
      return new Map();
    }
    const flows = ((await listing.json()).flows ?? []) as { path: string }[];
    if (!flows.some(f => f.path === path)) {
      return new Map(); // never run with nbflow here: nothing to show
    }
    const url = URLExt.join(base, ...path.split('/').map(encodeURIComponent));
    const response = await ServerConnection.makeRequest(url, {}, settings);
    return response.ok ? recordedByCell(await response.json()) : new Map();
  } catch (reason) {
    return new Map(); // no server extension, or offline: the badges wait for a kernel
  }
}
