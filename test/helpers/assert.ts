import assert from 'node:assert/strict';
import { VtpmError } from '../../src/errors.js';

/** Asserts that fn throws a VtpmError with this code; returns it. */
export function assertThrowsCode(fn: () => unknown, code: string): VtpmError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof VtpmError)) {
      assert.fail(`expected VtpmError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

export async function assertRejectsCode(p: Promise<unknown> | (() => Promise<unknown>), code: string): Promise<VtpmError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (!(err instanceof VtpmError)) {
      assert.fail(`expected VtpmError ${code}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}
