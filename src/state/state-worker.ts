// The audit's state thread (see batch-thread.ts): a StateBatcher on a
// connection of its own to the state file, driven by messages from the
// audit's main thread. Started only by OffThreadBatcher.

import { parentPort, workerData } from 'node:worker_threads';
import { TransportError } from '../errors.js';
import { StateBatcher } from './batch.js';
import { errorMessage, type FromStateThread, type StateThreadData, type ToStateThread } from './batch-thread-protocol.js';
import { openState, type StateStore } from './store.js';

const port = parentPort;
if (!port) throw new Error('state-worker.js runs only as the audit state thread');
const data = workerData as StateThreadData;
const post = (message: FromStateThread): void => port.postMessage(message);

/** The file the main thread opened, not another one put at its path since (then nothing is written). */
async function open(): Promise<StateBatcher> {
  const store: StateStore = await openState(data.path, { create: false, ...(data.busyTimeoutMs !== undefined ? { busyTimeoutMs: data.busyTimeoutMs } : {}) });
  // (the identity of what this connection opened, taken as it was opened)
  if (store.identity.dev !== data.identity.dev || store.identity.ino !== data.identity.ino) {
    store.close();
    throw new TransportError('STATE_UNWRITABLE', `state file ${data.path} was replaced by another file while the audit began; nothing was written to it`, { path: data.path });
  }
  return new StateBatcher(store, { runId: data.runId, ...data.batch, onCommit: (stored) => post({ type: 'stored', stored }) });
}

const ready = open();
// an open that fails is the answer to every call, and thrown at the main thread's next call
ready.catch((err: unknown) => post({ type: 'failed', error: errorMessage(err) }));

// the main thread sends the messages of one turn of its event loop together, in order
port.on('message', (messages: ToStateThread[]) => {
  for (const message of messages) void handle(message);
});

async function handle(message: ToStateThread): Promise<void> {
  let batcher: StateBatcher;
  try {
    batcher = await ready;
  } catch (err) {
    if ('id' in message) post({ type: 'reply', id: message.id, error: errorMessage(err) });
    return;
  }
  try {
    switch (message.type) {
      case 'assess':
        post({ type: 'reply', id: message.id, value: await batcher.assess(message.at, message.input) });
        return;
      case 'record':
        batcher.recordRow(message.row, message.code);
        return;
      case 'flush':
        batcher.flush();
        post({ type: 'reply', id: message.id, value: batcher.stored });
        return;
      case 'close':
        batcher.close();
        post({ type: 'reply', id: message.id, value: batcher.stored });
        port!.close();
        return;
    }
  } catch (err) {
    // a record has no caller waiting: its failure is the main thread's to throw at its next call
    post('id' in message ? { type: 'reply', id: message.id, error: errorMessage(err) } : { type: 'failed', error: errorMessage(err) });
  }
}
