/**
 * The side panel: the front notebook's graph (the widget's layout and colours), its counts and
 * progress, and the selected step's details. Clicking a node selects its step and scrolls to
 * and selects its cell; a badge click selects its step here.
 */

import { NotebookPanel } from '@jupyterlab/notebook';
import { Panel } from '@lumino/widgets';

import { CountsView } from './countsview';
import { DetailView } from './detailview';
import { GraphView } from './graphview';
import { FlowModel } from './model';

export const PANEL_ID = 'jp-nbflow-panel';

export class FlowPanel extends Panel {
  constructor() {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-nbflow-panel');
    this.title.caption = 'nbflow: the notebook’s steps';
    this._empty.className = 'jp-nbflow-empty';
    this._empty.textContent =
      'No flow in this notebook’s kernel (run %load_ext nbflow and a %%step cell).';
    this.node.appendChild(this._empty);
    this.addWidget(this._counts);
    this.addWidget(this._graph);
    this.addWidget(this._detail);
  }

  /** Follow `notebook` (the one in front) and its model, or nothing. */
  follow(notebook: NotebookPanel | null, model: FlowModel | null): void {
    const old = this._model;
    if (old) {
      old.changed.disconnect(this._update, this);
      old.layoutChanged.disconnect(this._onLayout, this);
      old.selectedChanged.disconnect(this._update, this);
      old.detailChanged.disconnect(this._update, this);
    }
    this._notebook = notebook;
    this._model = model;
    if (model) {
      model.changed.connect(this._update, this);
      model.layoutChanged.connect(this._onLayout, this);
      model.selectedChanged.connect(this._update, this);
      model.detailChanged.connect(this._update, this);
      model.wantLayout();
    }
    this._onLayout();
  }

  /** Select `step`: its node, its details, and its cell (scrolled to). */
  private _choose = (step: string): void => {
    const model = this._model;
    const notebook = this._notebook;
    if (!model || !notebook) {
      return;
    }
    model.select(step);
    const cellId = model.state.steps.get(step)?.cell;
    const content = notebook.content;
    const index = content.widgets.findIndex(c => c.model.id === cellId);
    if (index >= 0) {
      content.activeCellIndex = index;
      content.deselectAll();
      void content.scrollToCell(content.widgets[index], 'center');
    }
  };

  private _onLayout(): void {
    this._graph.setLayout(this._model?.layout ?? null);
    this._update();
  }

  private _update(): void {
    const model = this._model;
    const state = model?.state;
    const live = !!state && state.active && state.steps.size > 0;
    this._empty.hidden = live;
    for (const view of [this._counts, this._graph, this._detail]) {
      view.setHidden(!live);
    }
    if (!model || !state || !live) {
      return;
    }
    const selected = model.selected;
    this._counts.draw(state);
    this._graph.draw(state, selected);
    this._detail.draw(
      selected,
      state.steps.get(selected),
      model.details.get(selected)
    );
    const row = state.steps.get(selected);
    const shown = model.details.get(selected);
    if (row && shown && shown.state !== row.state) {
      model.select(selected); // its state moved on: ask for the new detail
    }
  }

  private _notebook: NotebookPanel | null = null;
  private _model: FlowModel | null = null;
  private _empty = document.createElement('div');
  private _counts = new CountsView();
  private _graph = new GraphView(this._choose);
  private _detail = new DetailView();
}
