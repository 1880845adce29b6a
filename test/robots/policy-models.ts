// Policy models the policy tests make for themselves: amr.track descriptions and seeded MLPs.
import { AMR_TRACK, type PolicyMetadata } from '../../robots/policy/contract.ts';
import { randomMlp, type Mlp } from '../../robots/policy/mlp.ts';
import { seededRandom } from '../../robots/policy/track-expert.ts';

export function trackMetadata(over: Partial<PolicyMetadata> = {}): PolicyMetadata {
  return {
    schemaVersion: 1,
    name: 'track-test',
    version: '0.1.0',
    controls: 'amr.track',
    observations: AMR_TRACK.observations.map((o) => ({ ...o, scale: 1 })),
    actions: [
      { name: 'v', unit: 'm/s', scale: 1, min: -2, max: 2 },
      { name: 'omega', unit: 'rad/s', scale: 1, min: -2, max: 2 },
    ],
    rateHz: 20,
    ...over,
  };
}

/** An amr.track MLP: 8 observations, a hidden layer, 2 actions. */
export function trackMlp(seed: number, hidden = 16): Mlp {
  return randomMlp([8, hidden, 2], seededRandom(seed));
}
