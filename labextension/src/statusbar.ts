/** The status-bar item: "nbflow: 2 running · 14/20 done" for the notebook in front. */

import { Widget } from '@lumino/widgets';

import { FlowModel } from './model';
import { summary } from './reducer';

export class FlowStatus extends Widget {
  constructor() {
    super();
    this.addClass('jp-nbflow-status');
    this.hide();
  }

  /** Follow `model` (the current notebook's), or nothing. */
  follow(model: FlowModel | null): void {
    this._model?.changed.disconnect(this._update, this);
    this._model = model;
    model?.changed.connect(this._update, this);
    this._update();
  }

  private _update(): void {
    const state = this._model?.state;
    if (!state || !state.active || state.steps.size === 0) {
      this.node.textContent = '';
      this.hide();
      return;
    }
    this.node.textContent = summary(state);
    this.show();
  }

  private _model: FlowModel | null = null;
}
