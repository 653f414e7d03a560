/**
 * The panel's graph: the widget's own live layout (an SVG the kernel sends, laid out by
 * Graphviz as for `%flow show`), its nodes recoloured from the rows with the widget's palette.
 */

import { Widget } from '@lumino/widgets';

import { ILayout } from './protocol';
import { IFlowState } from './reducer';
import { detailLine } from './views';

export class GraphView extends Widget {
  constructor(private readonly _onClick: (step: string) => void) {
    super();
    this.addClass('jp-nbflow-graph');
  }

  /** Draw a new layout (a new graph shape), or the reason there is none. */
  setLayout(layout: ILayout | null): void {
    this.node.innerHTML = layout ? layout.svg : '';
    this._nodes = new Map();
    if (layout && !layout.svg && layout.message) {
      this.node.textContent = layout.message;
    }
    for (const g of Array.from(this.node.querySelectorAll('g.node'))) {
      const title = g.querySelector('title');
      if (!title || !title.textContent) {
        continue;
      }
      const name = title.textContent;
      title.remove(); // the browser's tooltip would repeat the label
      g.setAttribute('data-nbflow-step', name);
      g.addEventListener('click', () => this._onClick(name));
      this._nodes.set(name, {
        g,
        shape: g.querySelector('path, polygon, ellipse'),
        texts: Array.from(g.querySelectorAll('text'))
      });
    }
  }

  /** Recolour every node from its row, and mark the selected one. */
  draw(state: IFlowState, selected: string): void {
    for (const [name, node] of this._nodes) {
      const row = state.steps.get(name);
      node.g.classList.toggle('jp-nbflow-selected', name === selected);
      if (!row) {
        continue;
      }
      const [fill, ink] = state.palette[row.state] ?? ['#fff', '#000'];
      node.g.setAttribute('data-nbflow-state', row.state);
      node.shape?.setAttribute('fill', fill);
      node.texts.forEach(t => t.setAttribute('fill', ink));
      if (node.texts.length > 1) {
        node.texts[node.texts.length - 1].textContent = detailLine(row);
      }
    }
  }

  private _nodes = new Map<
    string,
    { g: Element; shape: Element | null; texts: Element[] }
  >();
}
