/** The panel's header: steps done, a progress bar, counts per state in the widget's colours, time saved. */

import { Widget } from '@lumino/widgets';

import { IFlowState, formatDuration } from './reducer';
import { tally } from './views';

export class CountsView extends Widget {
  constructor() {
    super();
    this.addClass('jp-nbflow-counts');
    this._title.className = 'jp-nbflow-done';
    this._progress.className = 'jp-nbflow-progress';
    this._chips.className = 'jp-nbflow-chips';
    this._saved.className = 'jp-nbflow-saved';
    this.node.append(this._title, this._progress, this._chips, this._saved);
  }

  draw(state: IFlowState): void {
    const { counts, done, total } = tally(state.steps.values());
    this._title.textContent = `${done}/${total} done`;
    this._progress.max = Math.max(total, 1);
    this._progress.value = done;
    this._chips.replaceChildren(
      ...counts.map(([s, n]) => {
        const chip = document.createElement('span');
        chip.className = 'jp-nbflow-chip';
        chip.dataset.state = s;
        const [fill, ink] = state.palette[s] ?? ['', ''];
        chip.style.background = fill;
        chip.style.color = ink;
        chip.textContent = `${s} ${n}`;
        return chip;
      })
    );
    this._saved.textContent =
      state.saved > 0
        ? `time saved by restoring: ${formatDuration(state.saved)}`
        : '';
  }

  private _title = document.createElement('div');
  private _progress = document.createElement('progress');
  private _chips = document.createElement('div');
  private _saved = document.createElement('div');
}
