/**
 * The commands: run pending, cancel, retry failed, and run or force-run the active cell's step.
 *
 * Each sends one request over the notebook's `nbflow` comm (the kernel makes the
 * Flow call `%flow run/cancel/retry` makes) and shows the kernel's answer as a
 * notification. Labels and captions live here; keys, the toolbar and the cell
 * context menu are declared in schema/plugin.json, so users can override them.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { FlowModel } from './model';
import { CommandIDs, commandRequest, stepOfCell } from './steps';

const LABELS: { [id: string]: [string, string] } = {
  [CommandIDs.runPending]: [
    'Run pending steps',
    'nbflow: run pending and stale steps (%flow run)'
  ],
  [CommandIDs.cancel]: [
    'Cancel steps',
    'nbflow: cancel queued and running steps (%flow cancel)'
  ],
  [CommandIDs.retryFailed]: [
    'Retry failed steps',
    'nbflow: run every failed step again, then its dependents (%flow retry)'
  ],
  [CommandIDs.runStep]: [
    'Run this step',
    "nbflow: run this cell's step and what it needs (%flow run STEP)"
  ],
  [CommandIDs.forceStep]: [
    'Force re-run this step and its dependents',
    "nbflow: re-run this cell's step and everything downstream, restoring nothing (%flow run STEP --force)"
  ]
};

const PER_STEP = new Set([CommandIDs.runStep, CommandIDs.forceStep]);

export function addCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  modelOf: (panel: NotebookPanel) => FlowModel | undefined,
  palette: ICommandPalette | null
): void {
  const current = (): FlowModel | undefined =>
    tracker.currentWidget ? modelOf(tracker.currentWidget) : undefined;
  const activeStep = (): string | null => {
    const model = current();
    const cell = tracker.activeCell;
    if (!model || !cell || cell.model.type !== 'code') {
      return null;
    }
    return stepOfCell(
      cell.model.sharedModel.getSource(),
      cell.model.id,
      model.state
    );
  };
  for (const [id, [label, caption]] of Object.entries(LABELS)) {
    app.commands.addCommand(id, {
      label,
      caption,
      isEnabled: () => {
        const model = current();
        if (!model || !model.state.active) {
          return false;
        }
        return !PER_STEP.has(id) || activeStep() !== null;
      },
      execute: () => {
        const model = current();
        const request = commandRequest(id, activeStep());
        if (!model || !request || !model.send(request)) {
          Notification.warning(
            'nbflow: this notebook has no flow (run %load_ext nbflow and a %%step cell)',
            { autoClose: 5000 }
          );
        }
      }
    });
    palette?.addItem({ command: id, category: 'nbflow' });
  }
}

/** Show the kernel's answers to this notebook's commands. */
export function showAnswers(model: FlowModel): void {
  model.answered.connect((_, answer) => {
    if (answer.error) {
      Notification.error(answer.message, { autoClose: 8000 });
    } else {
      Notification.info(answer.message, { autoClose: 5000 });
    }
  });
}
