/** The commands' pure part: which step a cell defines, and the request each command sends. */

import { ISnapshot, VERSION } from './protocol';
import { emptyState, reduce } from './reducer';
import { CommandIDs, commandRequest, stepOfCell } from './steps';

function state() {
  const message: ISnapshot = {
    type: 'snapshot',
    version: VERSION,
    seq: 1,
    active: true,
    steps: {
      fit: { name: 'fit', state: 'failed', attempts: 1, cell: 'c-1' }
    },
    saved: 0,
    palette: {}
  };
  return reduce(emptyState(), message).state;
}

describe('stepOfCell', () => {
  it('takes the kernel’s step of the cell id first', () => {
    expect(stepOfCell('%%step other\nx = 1', 'c-1', state())).toBe('fit');
  });
  it('reads the header of a cell the kernel has not run', () => {
    expect(stepOfCell('  %%step load --after raw\nx = 1', 'c-9', state())).toBe(
      'load'
    );
  });
  it('is null for a plain cell or a bad header', () => {
    expect(stepOfCell('x = 1', 'c-9', state())).toBeNull();
    expect(stepOfCell('%%step\nx = 1', 'c-9', state())).toBeNull();
    expect(stepOfCell('%%stepper a', 'c-9', state())).toBeNull();
  });
});

describe('commandRequest', () => {
  it('maps each command to the %flow call it stands for', () => {
    expect(commandRequest(CommandIDs.runPending, null)).toEqual({
      type: 'run',
      steps: [],
      force: false
    });
    expect(commandRequest(CommandIDs.cancel, 'fit')).toEqual({
      type: 'cancel',
      steps: []
    });
    expect(commandRequest(CommandIDs.retryFailed, null)).toEqual({
      type: 'retry',
      steps: []
    });
    expect(commandRequest(CommandIDs.runStep, 'fit')).toEqual({
      type: 'run',
      steps: ['fit'],
      force: false
    });
    expect(commandRequest(CommandIDs.forceStep, 'fit')).toEqual({
      type: 'run',
      steps: ['fit'],
      force: true
    });
  });
  it('sends nothing for a per-step command without a step', () => {
    expect(commandRequest(CommandIDs.runStep, null)).toBeNull();
    expect(commandRequest(CommandIDs.forceStep, null)).toBeNull();
    expect(commandRequest('nbflow:nope', 'fit')).toBeNull();
  });
});
