/**
 * nbflow in JupyterLab 4 and Notebook 7: a model per notebook talking to its
 * kernel over the `nbflow` comm, the cell badges, the status-bar item, the
 * side panel and the commands (declared with their keys, toolbar buttons and
 * context-menu entries in schema/plugin.json), and static forms in place of
 * nbflow widget views whose model is gone.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { CellBadges } from './badges';
import { addCommands, showAnswers } from './commands';
import { StaticFallback } from './fallback';
import { FlowModel } from './model';
import { FlowPanel, PANEL_ID } from './panel';
import { FlowStatus } from './statusbar';
import { CommandIDs } from './steps';

const models = new WeakMap<NotebookPanel, FlowModel>();

/** Three nodes and two edges: the panel's tab. */
const flowIcon = new LabIcon({
  name: 'jupyter-nbflow:flow',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 16 16">' +
    '<g class="jp-icon3" fill="#616161"><rect x="5" y="1" width="6" height="4" rx="1"/>' +
    '<rect x="1" y="11" width="6" height="4" rx="1"/><rect x="9" y="11" width="6" height="4" rx="1"/>' +
    '<path d="M7.5 5h1v2.5H12V11h-1V8.5H5V11H4V7.5h3.5z"/></g></svg>'
});

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
    const panel = new FlowPanel();
    panel.title.icon = flowIcon;
    app.shell.add(panel, 'right', { rank: 600 });
    const showStep = (model: FlowModel, step: string) => {
      model.select(step);
      app.shell.activateById(PANEL_ID);
    };
    app.commands.addCommand(CommandIDs.togglePanel, {
      label: 'Show the nbflow panel',
      execute: () => app.shell.activateById(PANEL_ID)
    });
    palette?.addItem({ command: CommandIDs.togglePanel, category: 'nbflow' });
    addCommands(app, tracker, p => models.get(p), palette);
    const refreshCommands = () => app.commands.notifyCommandChanged();
    tracker.activeCellChanged.connect(refreshCommands);

    const follow = (notebook: NotebookPanel | null) => {
      const model = notebook ? (models.get(notebook) ?? null) : null;
      status.follow(model);
      panel.follow(model ? notebook : null, model);
    };
    tracker.widgetAdded.connect((_, notebook) => {
      const model = new FlowModel(notebook.sessionContext);
      const badges = new CellBadges(notebook, model, step =>
        showStep(model, step)
      );
      models.set(notebook, model);
      const fallback = new StaticFallback(notebook);
      showAnswers(model);
      model.changed.connect(refreshCommands);
      notebook.disposed.connect(() => {
        badges.dispose();
        fallback.dispose();
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
