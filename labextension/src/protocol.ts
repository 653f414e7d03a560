/**
 * What the kernel and this extension say over the `nbflow` comm (protocol version 1).
 *
 * The Python side names the same messages in nbflow/core/labcomm.py; the
 * contract is written out in docs/guide/jupyterlab.md ("The comm protocol").
 */

/** The comm target the kernel registers at `%load_ext nbflow`. */
export const TARGET = 'nbflow';
/** The protocol version this extension speaks; kernel messages of another version are ignored. */
export const VERSION = 1;

// front end -> kernel
export const HELLO = 'hello';
export const REQUEST_SNAPSHOT = 'request_snapshot';

// kernel -> front end
export const SNAPSHOT = 'snapshot';
export const UPDATE = 'update';
export const ERROR = 'error';
export const BYE = 'bye';

/** A step: its summary status (`StepStatus.to_json(detail=False)`) and the id of its cell. */
export interface IStepRow {
  name: string;
  state: string;
  attempts: number;
  duration?: number;
  source?: string;
  error?: string;
  reason?: string;
  time_saved?: number;
  cell?: string;
}

export interface ISnapshot {
  type: typeof SNAPSHOT;
  version: number;
  seq: number;
  active: boolean;
  steps: { [name: string]: IStepRow };
  saved: number;
  palette: { [state: string]: [string, string] };
}

export interface IUpdate {
  type: typeof UPDATE;
  version: number;
  seq: number;
  steps: { [name: string]: IStepRow };
  removed: string[];
  saved: number;
}

export interface IError {
  type: typeof ERROR;
  version: number;
  message: string;
}

export interface IBye {
  type: typeof BYE;
  version: number;
}

export type KernelMessage = ISnapshot | IUpdate | IError | IBye;

export function hello(): { type: string; version: number } {
  return { type: HELLO, version: VERSION };
}

export function requestSnapshot(): { type: string } {
  return { type: REQUEST_SNAPSHOT };
}
