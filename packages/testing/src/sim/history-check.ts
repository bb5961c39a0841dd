import { checkLinearizability, formatResult, kvModel } from '../linearizability/index.js';
import type { HistoryChecker } from './simulation.js';

/**
 * Checks a simulation's key/value client history with the linearizability checker. The step
 * budget keeps pathological histories from hanging a run: they report `unknown`.
 */
export function kvHistoryChecker(maxSteps = 5_000_000): HistoryChecker {
  const model = kvModel();
  return (history) => {
    const r = checkLinearizability(model, history, { maxSteps });
    return { result: r.result, info: r.result === 'illegal' ? formatResult(r) : undefined };
  };
}
