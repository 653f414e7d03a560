/**
 * nbflow in JupyterLab 4 and Notebook 7: a model per notebook talking to its
 * kernel over the `nbflow` comm, the cell badges, the status-bar item and the
 * commands (declared with their keys, toolbar buttons and context-menu
 * entries in schema/plugin.json).
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';

import { CellBadges } from './badges';
import { addCommands, showAnswers } from './commands';
import { FlowModel } from './model';
import { FlowStatus } from './statusbar';

const models = new WeakMap<NotebookPanel, FlowModel>();

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-nbflow:plugin',
  description:
    'Live nbflow step badges on cells, a graph panel, commands and a status-bar item.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IStatusBar, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null
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
    addCommands(app, tracker, p => models.get(p), palette);
    const refreshCommands = () => app.commands.notifyCommandChanged();
    tracker.activeCellChanged.connect(refreshCommands);

    const follow = (notebook: NotebookPanel | null) => {
      const model = notebook ? (models.get(notebook) ?? null) : null;
      status.follow(model);
    };
    tracker.widgetAdded.connect((_, notebook) => {
      const model = new FlowModel(notebook.sessionContext);
      const badges = new CellBadges(notebook, model);
      models.set(notebook, model);
      showAnswers(model);
      model.changed.connect(refreshCommands);
      notebook.disposed.connect(() => {
        badges.dispose();
        model.dispose();
        if (tracker.currentWidget === null) {
          follow(null);
        }
      });
      if (tracker.currentWidget === notebook) {
        follow(notebook);
      }
    });
    tracker.currentChanged.connect((_, notebook) => follow(notebook));
  }
};

export default plugin;
