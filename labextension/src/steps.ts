/**
 * Which step a cell defines, and the request each command sends: pure, so jest tests them alone.
 */

import * as protocol from './protocol';
import { IFlowState } from './reducer';

/** The command ids; their labels, keys, toolbar and menu places are in schema/plugin.json. */
export const CommandIDs = {
  runPending: 'nbflow:run-pending',
  cancel: 'nbflow:cancel',
  retryFailed: 'nbflow:retry-failed',
  runStep: 'nbflow:run-step',
  forceStep: 'nbflow:force-step',
  togglePanel: 'nbflow:toggle-panel'
};

/** `%%step NAME ...` on a cell's first line (the header; docs/guide/step-options.md). */
const HEADER = /^%%step[ \t]+([A-Za-z_][A-Za-z0-9_]*)/;

/** The step a cell defines: the kernel's word for it (by cell id) first, else its header; null if none. */
export function stepOfCell(
  source: string,
  cellId: string,
  state: IFlowState
): string | null {
  for (const row of state.steps.values()) {
    if (row.cell === cellId) {
      return row.name;
    }
  }
  const match = HEADER.exec(source.trimStart());
  return match ? match[1] : null;
}

/** The message a command sends, or null when it needs a step and has none. */
export function commandRequest(
  command: string,
  step: string | null
): protocol.ICommandRequest | null {
  switch (command) {
    case CommandIDs.runPending:
      return protocol.run();
    case CommandIDs.cancel:
      return protocol.cancel();
    case CommandIDs.retryFailed:
      return protocol.retry();
    case CommandIDs.runStep:
      return step ? protocol.run([step]) : null;
    case CommandIDs.forceStep:
      return step ? protocol.run([step], true) : null;
    default:
      return null;
  }
}
