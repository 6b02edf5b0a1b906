/** Every scenario of the conformance suite, in a stable order. */
import type { Scenario } from './harness.js';
import { CONNECT_SCENARIOS } from './scenarios-connect.js';
import { DESTROY_SCENARIOS } from './scenarios-destroy.js';
import { END_SCENARIOS } from './scenarios-end.js';
import { FLOW_SCENARIOS } from './scenarios-flow.js';
import { IPV6_SCENARIOS } from './scenarios-ipv6.js';
import { LIFETIME_SCENARIOS } from './scenarios-lifetime.js';
import { OPTION_SCENARIOS } from './scenarios-options.js';
import { SERVER_SCENARIOS } from './scenarios-server.js';
import { WRITE_SCENARIOS } from './scenarios-write.js';

export const SCENARIOS: readonly Scenario[] = [
  ...CONNECT_SCENARIOS,
  ...END_SCENARIOS,
  ...DESTROY_SCENARIOS,
  ...SERVER_SCENARIOS,
  ...WRITE_SCENARIOS,
  ...OPTION_SCENARIOS,
  ...FLOW_SCENARIOS,
  ...LIFETIME_SCENARIOS,
  ...IPV6_SCENARIOS,
];
