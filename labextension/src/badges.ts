/**
 * The cell badges: each `%%step` cell (matched by cell id) shows its step's state.
 *
 * The badge lives in the cell's own node, so it moves with the cell; it is
 * redrawn from the model's state when a message arrives and when cells are
 * added, moved or removed, and taken away when its step is gone. Clicking a
 * badge selects its step in the side panel.
 */

import { Cell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { FlowModel } from './model';
import { IFlowState, badge, rowsByCell } from './reducer';

export const BADGE_CLASS = 'jp-nbflow-badge';

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
    for (const cell of this._panel.content.widgets) {
      const row = byCell.get(cell.model.id);
      const existing = this._badgeOf(cell);
      if (!row) {
        existing?.remove();
        continue;
      }
      const node = existing ?? this._create(cell);
      const view = badge(row);
      if (node.dataset.step !== row.name) {
        node.dataset.step = row.name;
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
      const colours = state.palette[view.state];
      const paint = colours ? colours.join(' ') : '';
      if (node.dataset.paint !== paint) {
        node.dataset.paint = paint;
        node.style.background = colours ? colours[0] : '';
        node.style.color = colours ? colours[1] : '';
      }
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
}
