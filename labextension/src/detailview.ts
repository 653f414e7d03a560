/** The panel's detail pane: the selected step's error, traceback, attempts, provenance and why it ran. */

import { Widget } from '@lumino/widgets';

import { IPaneDisplay, IStepDetail, IStepRow } from './protocol';
import { failedAttempts, provenance } from './views';

function el(tag: string, cls: string, text = ''): HTMLElement {
  const node = document.createElement(tag);
  node.className = cls;
  node.textContent = text;
  return node;
}

/**
 * One display of the step: an image as an image, HTML (a DataFrame's table) in a frame
 * that runs no script and reaches nothing (an empty sandbox), so a step's HTML cannot act in the page.
 */
export function paneDisplay({ mime, data }: IPaneDisplay): HTMLElement {
  if (mime === 'text/html') {
    const frame = document.createElement('iframe');
    frame.className = 'jp-nbflow-display jp-nbflow-display-html';
    frame.setAttribute('sandbox', '');
    frame.title = 'display';
    frame.srcdoc = data;
    return frame;
  }
  const image = document.createElement('img');
  image.className = 'jp-nbflow-display jp-nbflow-display-image';
  image.alt = 'display';
  image.src =
    mime === 'image/svg+xml'
      ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(data)}`
      : `data:${mime};base64,${data.replace(/\n/g, '')}`;
  return image;
}

export class DetailView extends Widget {
  constructor() {
    super();
    this.addClass('jp-nbflow-detail');
  }

  /** Show `step` from its row, and its detail pane once the kernel sent it. */
  draw(
    step: string,
    row: IStepRow | undefined,
    detail: IStepDetail | undefined
  ): void {
    if (!step) {
      this.node.replaceChildren(
        el('div', 'jp-nbflow-hint', 'Click a node or a badge for its details.')
      );
      return;
    }
    const items = [
      el(
        'div',
        'jp-nbflow-detail-title',
        `${step}: ${row ? row.state : 'unknown'}`
      )
    ];
    const d = detail && detail.name === step ? detail : undefined;
    const error = d ? d.error : row?.state === 'failed' ? row.error : '';
    if (error) {
      items.push(el('div', 'jp-nbflow-error', error));
    }
    if (d) {
      if (d.reason && !d.error) {
        items.push(el('div', 'jp-nbflow-reason', d.reason));
      }
      if (d.why) {
        items.push(el('div', 'jp-nbflow-why', `why it ran: ${d.why}`));
      }
      const facts = provenance(d);
      if (facts) {
        items.push(el('div', 'jp-nbflow-provenance', facts));
      }
      if (d.traceback) {
        items.push(
          el('div', 'jp-nbflow-caption', 'traceback'),
          el('pre', 'jp-nbflow-traceback', d.traceback)
        );
      }
      const failed = failedAttempts(d);
      if (failed.length) {
        items.push(el('div', 'jp-nbflow-caption', 'attempts'));
        for (const a of failed) {
          const item = el(
            'div',
            'jp-nbflow-attempt',
            `attempt ${a.number}: ${a.error}`
          );
          item.dataset.attempt = String(a.number);
          items.push(item);
        }
      }
      if (d.text) {
        items.push(
          el('div', 'jp-nbflow-caption', 'output'),
          el('pre', 'jp-nbflow-output-text', d.text)
        );
      }
      if (d.displays?.length) {
        items.push(
          el('div', 'jp-nbflow-caption', 'displays'),
          ...d.displays.map(paneDisplay)
        );
        if (d.displays_hidden) {
          items.push(
            el(
              'div',
              'jp-nbflow-caption',
              `${d.displays_hidden} more in the cell`
            )
          );
        }
      }
    }
    this.node.replaceChildren(...items);
  }
}
