/** Every scenario of the conformance suite, in a stable order. */
import type { Scenario } from './harness.js';
import { CONNECT_SCENARIOS } from './scenarios-connect.js';

export const SCENARIOS: readonly Scenario[] = [...CONNECT_SCENARIOS];
