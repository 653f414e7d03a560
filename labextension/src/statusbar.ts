/** The status-bar item: "nbflow: 2 running · 14/20 done" for the notebook in front. */

import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { FlowModel } from './model';
import { summary } from './reducer';

export class FlowStatus extends Widget {
  constructor() {
    super();
    this.addClass('jp-nbflow-status');
  }

  /** Follow `model` (the current notebook's), or nothing. */
  follow(model: FlowModel | null): void {
    this._model?.changed.disconnect(this._update, this);
    this._model = model;
    model?.changed.connect(this._update, this);
    this._update();
  }

  /** Whether there is a flow to show (the status bar shows the item only then). */
  get hasFlow(): boolean {
    return this._hasFlow;
  }

  get activeStateChanged(): ISignal<this, void> {
    return this._activeStateChanged;
  }

  private _update(): void {
    const state = this._model?.state;
    const hasFlow = !!state && state.active && state.steps.size > 0;
    this.node.textContent = hasFlow && state ? summary(state) : '';
    if (hasFlow !== this._hasFlow) {
      this._hasFlow = hasFlow;
      this._activeStateChanged.emit();
    }
  }

  private _hasFlow = false;
  private _activeStateChanged = new Signal<this, void>(this);

  private _model: FlowModel | null = null;
}
