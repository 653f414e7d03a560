/**
 * Static forms in place of nbflow widget views whose model is gone.
 *
 * A notebook saved without widget state (JupyterLab's default) keeps each
 * nbflow display's widget view and its static forms. Reopened, ipywidgets
 * finds no model and writes "model not found" where the step's output or the
 * graph was; for outputs nbflow marked (`staticform.ts`), the best static form
 * the notebook's trust allows is rendered there instead.
 */

import { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { MimeModel } from '@jupyterlab/rendermime';

import { MODEL_NOT_FOUND, staticForms } from './staticform';

export const FALLBACK_CLASS = 'jp-nbflow-static-fallback';

export class StaticFallback {
  constructor(private readonly _panel: NotebookPanel) {
    this._observer = new MutationObserver(() => this._schedule());
    this._observer.observe(_panel.content.node, {
      childList: true,
      subtree: true,
      characterData: true
    });
    this._schedule();
  }

  dispose(): void {
    this._observer.disconnect();
  }

  private _schedule(): void {
    if (this._scheduled) {
      return;
    }
    this._scheduled = true;
    requestAnimationFrame(() => {
      this._scheduled = false;
      this._scan();
    });
  }

  /** Each output whose view says "model not found", in cells that show one. */
  private _scan(): void {
    for (const cell of this._panel.content.widgets) {
      if (cell.model.type !== 'code') {
        continue;
      }
      const area = (cell as CodeCell).outputArea;
      area.widgets.forEach((child, index) => {
        const dead = Array.from(
          child.node.querySelectorAll<HTMLElement>('.jupyter-widgets')
        ).find(
          node =>
            node.textContent === MODEL_NOT_FOUND &&
            !node.classList.contains(FALLBACK_CLASS)
        );
        if (!dead || index >= area.model.length) {
          return;
        }
        const output = area.model.get(index);
        const forms = staticForms(output.data, output.metadata);
        if (forms) {
          void this._render(dead, forms, output.trusted);
        }
      });
    }
  }

  private async _render(
    node: HTMLElement,
    data: { [mime: string]: unknown },
    trusted: boolean
  ): Promise<void> {
    node.classList.add(FALLBACK_CLASS);
    const rendermime = this._panel.content.rendermime;
    const mime = rendermime.preferredMimeType(
      data as never,
      trusted ? 'any' : 'ensure'
    );
    if (!mime) {
      return;
    }
    const renderer = rendermime.createRenderer(mime);
    await renderer.renderModel(
      new MimeModel({ data: data as never, trusted, metadata: {} })
    );
    node.replaceChildren(renderer.node);
  }

  private readonly _observer: MutationObserver;
  private _scheduled = false;
}
