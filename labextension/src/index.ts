/**
 * nbflow in JupyterLab 4 and Notebook 7: a model per notebook talking to its
 * kernel over the `nbflow` comm, the cell badges and the status-bar item, and
 * static forms in place of nbflow widget views whose model is gone.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CellBadges } from './badges';
import { StaticFallback } from './fallback';
import { FlowModel } from './model';
import { FlowStatus } from './statusbar';

const models = new WeakMap<NotebookPanel, FlowModel>();

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-nbflow:plugin',
  description: 'Live nbflow step badges on cells, and a status-bar item.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar | null
  ) => {
    const status = new FlowStatus();
    if (statusBar) {
      statusBar.registerStatusItem('jupyter-nbflow:status', {
        item: status,
        align: 'left',
        rank: 4,
        isActive: () => status.hasFlow,
        activeStateChanged: status.activeStateChanged
      });
    }
    tracker.widgetAdded.connect((_, panel) => {
      const model = new FlowModel(panel.sessionContext);
      const badges = new CellBadges(panel, model);
      const fallback = new StaticFallback(panel);
      models.set(panel, model);
      panel.disposed.connect(() => {
        badges.dispose();
        fallback.dispose();
        model.dispose();
        if (tracker.currentWidget === null) {
          status.follow(null);
        }
      });
      if (tracker.currentWidget === panel) {
        status.follow(model);
      }
    });
    tracker.currentChanged.connect((_, panel) => {
      status.follow(panel ? (models.get(panel) ?? null) : null);
    });
  }
};

export default plugin;
