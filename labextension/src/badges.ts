/**
 * The cell badges: each `%%step` cell (matched by cell id) shows its step's state.
 *
 * The badge lives in the cell's own node, so it moves with the cell; it is
 * redrawn from the model's state when a message arrives and when cells are
 * added, moved or removed, and taken away when its step is gone. Until a
 * kernel with nbflow has sent steps, each step cell shows its last recorded
 * run instead, greyed (from the REST API, see lastrun.ts). Clicking a badge
 * selects its step in the side panel.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { IRecordedStep, fetchLastRun, lastRunBadge } from './lastrun';
import { FlowModel } from './model';
import { IBadge, IFlowState, badge, rowsByCell } from './reducer';

export const BADGE_CLASS = 'jp-nbflow-badge';
const LAST_RUN_CLASS = 'jp-nbflow-lastrun';

export class CellBadges {
  constructor(
    private readonly _panel: NotebookPanel,
    private readonly _model: FlowModel,
    private readonly _onClick: (step: string) => void = () => undefined
  ) {
    _model.changed.connect(this._render, this);
    _panel.content.model?.cells.changed.connect(this._scheduleRender, this);
    _panel.content.modelChanged.connect(this._scheduleRender, this);
    this._render();
    void _panel.context.ready.then(async () => {
      this._lastRun = await fetchLastRun(_panel.context.path);
      this._render();
    });
  }

  dispose(): void {
    this._model.changed.disconnect(this._render, this);
    this._panel.content.model?.cells.changed.disconnect(
      this._scheduleRender,
      this
    );
    this._panel.content.modelChanged.disconnect(this._scheduleRender, this);
  }

  /** Browser time the last redraw took, in ms (bench/labextension.py reads it from the page). */
  lastRenderMs = 0;

  private _scheduleRender(): void {
    // after the notebook has made (or moved) the cell widgets for this change
    requestAnimationFrame(() => this._render());
  }

  private _render(): void {
    const start = performance.now();
    const state: IFlowState = this._model.state;
    const byCell = rowsByCell(state);
    // the kernel's steps once it has any; until then, the last recorded run, greyed
    const live = state.active && state.steps.size > 0;
    const now = Date.now() / 1000;
    for (const cell of this._panel.content.widgets) {
      const row = byCell.get(cell.model.id);
      const recorded = live ? undefined : this._lastRun.get(cell.model.id);
      const existing = this._badgeOf(cell);
      if (!row && !recorded) {
        existing?.remove();
        continue;
      }
      const node = existing ?? this._create(cell);
      const view: IBadge = row ? badge(row) : lastRunBadge(recorded!, now);
      const name = row ? row.name : recorded!.name;
      node.classList.toggle(LAST_RUN_CLASS, !row);
      if (node.dataset.step !== name) {
        node.dataset.step = name;
      }
      if (node.textContent !== view.text) {
        node.textContent = view.text;
      }
      if (node.title !== view.title) {
        node.title = view.title;
      }
      if (node.dataset.state !== view.state) {
        node.dataset.state = view.state;
      }
      const colours = state.palette[view.state] ?? this._palette[view.state];
      const paint = colours ? colours.join(' ') : '';
      if (node.dataset.paint !== paint) {
        node.dataset.paint = paint;
        node.style.background = colours ? colours[0] : '';
        node.style.color = colours ? colours[1] : '';
      }
    }
    if (Object.keys(state.palette).length) {
      this._palette = state.palette; // kept for the greyed badges after a restart
    }
    this.lastRenderMs = performance.now() - start;
    this._panel.node.dataset.nbflowRenderMs = this.lastRenderMs.toFixed(3);
  }

  private _badgeOf(cell: Cell): HTMLElement | null {
    return cell.node.querySelector(`:scope > .${BADGE_CLASS}`);
  }

  private _create(cell: Cell): HTMLElement {
    const node = document.createElement('div');
    node.className = BADGE_CLASS;
    node.addEventListener('click', event => {
      event.stopPropagation();
      if (node.dataset.step) {
        this._onClick(node.dataset.step);
      }
    });
    cell.node.appendChild(node);
    return node;
  }

  private _lastRun = new Map<string, IRecordedStep>();
  private _palette: { [state: string]: [string, string] } = {};
}
