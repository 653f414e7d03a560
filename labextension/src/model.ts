/**
 * One notebook's flow as its kernel reports it over the `nbflow` comm.
 *
 * Opens the comm when the kernel is ready (notebook opened, page reloaded,
 * kernel restarted or changed, connection back) and after a cell that loads
 * nbflow ran; and takes the comm a kernel opens itself at `%load_ext nbflow`
 * (its snapshot in the open's data), which comes at once where our own open
 * would wait behind every cell of a Run All. A kernel without nbflow closes
 * our comm at once: the state stays empty, nothing is shown, nothing logged.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import * as protocol from './protocol';
import { IFlowState, emptyState, reduce } from './reducer';

/** A kernel's answer to a command, or its one-line error. */
export interface IAnswered {
  message: string;
  error: boolean;
}

/** A cell's code that may load nbflow: after it runs, ask again. */
const LOADS_NBFLOW = /\bnbflow\b/;

export class FlowModel {
  constructor(private readonly _session: ISessionContext) {
    _session.kernelChanged.connect(this._onKernelChanged, this);
    this._onKernelChanged();
  }

  get state(): IFlowState {
    return this._state;
  }

  /** Emitted after every message that changed the state. */
  get changed(): ISignal<this, IFlowState> {
    return this._changed;
  }

  /** The widget's layout of this flow, once the panel has asked for it (null until it comes). */
  get layout(): protocol.ILayout | null {
    return this._layout;
  }

  get layoutChanged(): ISignal<this, protocol.ILayout | null> {
    return this._layoutChanged;
  }

  /** Each step's detail pane, as last received. */
  readonly details = new Map<string, protocol.IStepDetail>();

  get detailChanged(): ISignal<this, string> {
    return this._detailChanged;
  }

  /** The kernel's answers to commands and its errors. */
  get answered(): ISignal<this, IAnswered> {
    return this._answered;
  }

  /** The step selected in the panel ("" for none); a badge click selects its step. */
  get selected(): string {
    return this._selected;
  }

  get selectedChanged(): ISignal<this, string> {
    return this._selectedChanged;
  }

  select(step: string): void {
    if (step !== this._selected) {
      this._selected = step;
      this._selectedChanged.emit(step);
    }
    if (step) {
      this.send(protocol.requestDetail(step));
    }
  }

  /** Send a request to the kernel; false when no nbflow comm is open. */
  send(data: { type: string }): boolean {
    if (!this._comm || this._comm.isDisposed) {
      return false;
    }
    this._comm.send(data as any);
    return true;
  }

  /** The panel wants the graph: ask now, and again at every new snapshot (a reconnect, a restart). */
  wantLayout(): void {
    this._wantLayout = true;
    this.send(protocol.requestLayout());
  }

  /** Browser time spent applying the last update, in ms (bench/labextension.py reads it). */
  lastApplyMs = 0;
  /** Kernel messages received (bench/labextension.py counts them). */
  received = 0;

  dispose(): void {
    this._session.kernelChanged.disconnect(this._onKernelChanged, this);
    this._unwatch();
    this._closeComm();
    Signal.clearData(this);
  }

  private _onKernelChanged(): void {
    this._unwatch();
    this._closeComm();
    this._forgetKernel();
    this._setState(emptyState());
    const kernel = this._session.session?.kernel ?? null;
    this._kernel = kernel;
    if (!kernel) {
      return;
    }
    kernel.registerCommTarget(protocol.TARGET, this._onKernelComm);
    kernel.statusChanged.connect(this._onStatus, this);
    kernel.connectionStatusChanged.connect(this._onConnection, this);
    kernel.iopubMessage.connect(this._onIOPub, this);
    if (kernel.status === 'idle' || kernel.status === 'busy') {
      this._open();
    } else {
      this._openWhenIdle = true;
    }
  }

  private _unwatch(): void {
    const kernel = this._kernel;
    if (kernel) {
      if (!kernel.isDisposed) {
        kernel.removeCommTarget(protocol.TARGET, this._onKernelComm);
      }
      kernel.statusChanged.disconnect(this._onStatus, this);
      kernel.connectionStatusChanged.disconnect(this._onConnection, this);
      kernel.iopubMessage.disconnect(this._onIOPub, this);
    }
    this._kernel = null;
  }

  private _onStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'starting'
    ) {
      this._closeComm();
      this._forgetKernel();
      this._setState(emptyState());
      this._openWhenIdle = true;
    } else if (status === 'idle' && this._openWhenIdle) {
      this._openWhenIdle = false;
      this._open();
    }
  }

  private _onConnection(
    _: Kernel.IKernelConnection,
    status: Kernel.ConnectionStatus
  ): void {
    if (status === 'connected') {
      if (this._comm) {
        this._comm.send(protocol.requestSnapshot());
      } else {
        this._openWhenIdle = true;
      }
    }
  }

  private _onIOPub(
    _: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (this._comm || msg.header.msg_type !== 'execute_input') {
      return;
    }
    const code = (msg.content as KernelMessage.IExecuteInputMsg['content'])
      .code;
    if (LOADS_NBFLOW.test(code)) {
      this._openWhenIdle = true; // opened at the next idle, once the cell has loaded it
    }
  }

  /** The kernel opened a comm (`%load_ext nbflow`): use it, unless one is open already. */
  private _onKernelComm = (
    comm: Kernel.IComm,
    msg: KernelMessage.ICommOpenMsg
  ): void => {
    if (this._comm && this._heard) {
      return; // left open: another tab on this kernel may be using it
    }
    const pending = this._comm;
    this._openWhenIdle = false;
    this._use(comm);
    if (pending && !pending.isDisposed) {
      pending.close(); // our own open, still queued behind the cells: the kernel closes it after opening it
    }
    this._receive(msg.content.data as unknown as protocol.KernelMessage);
  };

  private _use(comm: Kernel.IComm): void {
    this._comm = comm;
    this._heard = false;
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      if (this._comm === comm) {
        this._receive(msg.content.data as unknown as protocol.KernelMessage);
      }
    };
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null; // a kernel without nbflow, or `%unload_ext nbflow`
      }
    };
  }

  private _open(): void {
    const kernel = this._kernel;
    if (!kernel || this._comm || kernel.isDisposed) {
      return;
    }
    const comm = kernel.createComm(protocol.TARGET);
    this._use(comm);
    try {
      comm.open(protocol.hello());
    } catch (reason) {
      this._comm = null; // the kernel went away meanwhile: the next idle tries again
    }
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.dispose();
      } catch (reason) {
        // a dead kernel's comm: nothing to tell anyone
      }
    }
  }

  /** What a kernel told beyond the rows: gone with it. */
  private _forgetKernel(): void {
    this.details.clear();
    if (this._layout) {
      this._layout = null;
      this._layoutChanged.emit(null);
    }
  }

  private _receive(message: protocol.KernelMessage): void {
    this.received += 1;
    this._heard = true;
    if (message && message.version === protocol.VERSION) {
      switch (message.type) {
        case protocol.ANSWER:
          this._answered.emit({ message: message.message, error: false });
          return;
        case protocol.ERROR:
          this._answered.emit({ message: message.message, error: true });
          return;
        case protocol.DETAIL:
          this.details.set(message.step, message.detail);
          this._detailChanged.emit(message.step);
          return;
        case protocol.LAYOUT:
          this._layout = message;
          this._layoutChanged.emit(message);
          return;
        case protocol.SNAPSHOT:
          if (this._wantLayout && this._comm) {
            this._comm.send(protocol.requestLayout());
          }
          break;
      }
    }
    const start = performance.now();
    const { state, resync } = reduce(this._state, message);
    if (resync && this._comm) {
      this._comm.send(protocol.requestSnapshot());
    }
    if (message && message.type === protocol.BYE) {
      this._comm = null;
    }
    this._setState(state);
    this.lastApplyMs = performance.now() - start;
  }

  private _setState(state: IFlowState): void {
    if (state === this._state) {
      return;
    }
    this._state = state;
    this._changed.emit(state);
  }

  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _openWhenIdle = false;
  /** the current comm has brought a message (so it is not a kernel's refusal still to come) */
  private _heard = false;
  private _state: IFlowState = emptyState();
  private _changed = new Signal<this, IFlowState>(this);
  private _layout: protocol.ILayout | null = null;
  private _layoutChanged = new Signal<this, protocol.ILayout | null>(this);
  private _wantLayout = false;
  private _detailChanged = new Signal<this, string>(this);
  private _answered = new Signal<this, IAnswered>(this);
  private _selected = '';
  private _selectedChanged = new Signal<this, string>(this);
}
