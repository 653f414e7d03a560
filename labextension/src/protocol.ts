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
export const RUN = 'run';
export const CANCEL = 'cancel';
export const RETRY = 'retry';
export const REQUEST_DETAIL = 'request_detail';
export const REQUEST_LAYOUT = 'request_layout';

// kernel -> front end
export const SNAPSHOT = 'snapshot';
export const UPDATE = 'update';
export const ERROR = 'error';
export const BYE = 'bye';
export const ANSWER = 'answer';
export const DETAIL = 'detail';
export const LAYOUT = 'layout';

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

/** What a RUN, CANCEL or RETRY did: the line the `%flow` command prints. */
export interface IAnswer {
  type: typeof ANSWER;
  version: number;
  request: string;
  message: string;
}

/** A step's detail pane, as the widget's (`nbflow.widget.widget.describe`). */
export interface IStepDetail {
  name: string;
  missing?: boolean;
  state?: string;
  error?: string;
  reason?: string;
  traceback?: string;
  /** [number, started, ended, error, traceback] */
  attempts?: [number, number | null, number | null, string, string][];
  text?: string;
  source?: string | null;
  started?: number | null;
  ended?: number | null;
  duration?: number | null;
  checkpoint?: string;
  time_saved?: number | null;
  not_restorable?: string;
  why?: string;
  /** a restored step's provenance: "computed 2026-12-01 14:03 in 4.0s, saved 3.9s" */
  restored?: string;
  /** the step's first rich displays (richest form of each), and how many more its cell has */
  displays?: IPaneDisplay[];
  displays_hidden?: number;
}

/** One display in the detail pane: an image (base64, or SVG text) or HTML. */
export interface IPaneDisplay {
  mime: string;
  data: string;
}

export interface IDetail {
  type: typeof DETAIL;
  version: number;
  step: string;
  detail: IStepDetail;
}

/** The widget's live layout: an SVG whose `g.node`s are titled by step. */
export interface ILayout {
  type: typeof LAYOUT;
  version: number;
  svg: string;
  message: string;
}

export type KernelMessage =
  ISnapshot | IUpdate | IError | IBye | IAnswer | IDetail | ILayout;

export function hello(): { type: string; version: number } {
  return { type: HELLO, version: VERSION };
}

export function requestSnapshot(): { type: string } {
  return { type: REQUEST_SNAPSHOT };
}

/** A request that changes the flow: `%flow run [STEP ...] [--force]`, `%flow cancel`, `%flow retry`. */
export interface ICommandRequest {
  type: typeof RUN | typeof CANCEL | typeof RETRY;
  steps: string[];
  force?: boolean;
}

export function run(steps: string[] = [], force = false): ICommandRequest {
  return { type: RUN, steps, force };
}

export function cancel(steps: string[] = []): ICommandRequest {
  return { type: CANCEL, steps };
}

export function retry(steps: string[] = []): ICommandRequest {
  return { type: RETRY, steps };
}

export function requestDetail(step: string): { type: string; step: string } {
  return { type: REQUEST_DETAIL, step };
}

export function requestLayout(): { type: string } {
  return { type: REQUEST_LAYOUT };
}
