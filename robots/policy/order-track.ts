// Following a VDA 5050 order with an `amr.track` policy, one node at a time: the path the policy
// is given toward the node ahead, when that node counts as reached, how long the policy gets, and
// what the vehicle reports upward. A policy-driven virtual AMR and `phygate edge` on a robot follow
// orders the same way, so they share this.
import { ErrorLevel, InfoLevel, type Error as VdaError, type Information } from 'vda-5050-lib';
import type { NavGraph } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import { wrapAngle } from '../vda5050/order.ts';
import { NODE_TOLERANCE_M } from '../vda5050/vehicle-checks.ts';
import type { PathPose } from './amr-track.ts';
import type { LoadedPolicy } from './loader.ts';
import { INTERVENTION_REASONS, type InterventionReason } from './shield.ts';

/** How close (rad) a policy-driven AMR must turn to a node's heading, when the order gives one. */
export const POLICY_HEADING_TOLERANCE_RAD = 0.05;

/**
 * Seconds a policy gets to reach the next node before the vehicle reports a FATAL
 * `policyTimeout` error (the step fails rather than hang): three times what driving the edge at
 * the AMR's top speed and a half turn in place take, plus 10 s.
 */
export function policyNodeTimeoutS(lengthM: number, amr: Pick<Amr, 'limits'>): number {
  return 3 * (lengthM / amr.limits.maxSpeed + Math.PI / amr.limits.maxTurnRate) + 10;
}

/** The way to one node: the path handed to the policy, and how long it has been on it. */
export interface NodeTrack {
  path: PathPose[];
  /** The segment of `path` the robot is on (trackObservation's `from`). */
  segment: number;
  /** Seconds spent on the way to this node. */
  sinceS: number;
  timeoutS: number;
  /** Turning in place on the end node to the order's heading. */
  turning: boolean;
}

type Pose = { x: number; y: number; theta: number };

/**
 * The path from node `from` to node `to` of the nav graph: the straight edge between them. A
 * zero-length edge (the robot is sent to the node it stands on) is a turn to where it faces.
 */
export function trackToNode(graph: NavGraph, from: string, to: string, pose: Pose, amr: Pick<Amr, 'limits'>): NodeTrack {
  const a = graph.points.get(from)!;
  const b = graph.points.get(to)!;
  const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
  const theta = length > 1e-9 ? Math.atan2(b[1] - a[1], b[0] - a[0]) : pose.theta;
  return {
    path: [
      { x: a[0], y: a[1], theta },
      { x: b[0], y: b[1], theta },
    ],
    segment: 0,
    sinceS: 0,
    timeoutS: policyNodeTimeoutS(length, amr),
    turning: false,
  };
}

/** Whether the robot stands within NODE_TOLERANCE_M of a node of the nav graph. */
export function standsOnNode(graph: NavGraph, node: string, pose: Pose): boolean {
  const p = graph.points.get(node);
  return !!p && Math.hypot(p[0] - pose.x, p[1] - pose.y) <= NODE_TOLERANCE_M;
}

/**
 * Whether the node `track` leads to is reached: within NODE_TOLERANCE_M of it and, on the order's
 * last node when the order gives a heading (`endTheta`), turned to within
 * POLICY_HEADING_TOLERANCE_RAD of it. Facing the wrong way there, the track becomes a path of zero
 * length on the node, which turns the robot in place.
 */
export function nodeReached(graph: NavGraph, track: NodeTrack, node: string, pose: Pose, endTheta: number | undefined): boolean {
  if (track.turning) return Math.abs(wrapAngle(track.path[1]!.theta - pose.theta)) <= POLICY_HEADING_TOLERANCE_RAD;
  if (!standsOnNode(graph, node, pose)) return false;
  if (endTheta === undefined || Math.abs(wrapAngle(endTheta - pose.theta)) <= POLICY_HEADING_TOLERANCE_RAD) return true;
  const end = track.path[1]!;
  track.path = [
    { ...end, theta: endTheta },
    { ...end, theta: endTheta },
  ];
  track.segment = 0;
  track.turning = true;
  return false;
}

/** The FATAL error of a policy that did not reach the next node in time. */
export function policyTimeoutError(node: string, track: NodeTrack): VdaError {
  return {
    errorType: 'policyTimeout',
    errorLevel: ErrorLevel.Fatal,
    errorDescription: `the policy did not reach node '${node}' within ${Math.round(track.timeoutS)} s`,
    errorReferences: [{ referenceKey: 'nodeId', referenceValue: node }],
  };
}

/** The FATAL error of a policy runtime that failed: the robot stands. */
export function policyFailedError(message: string): VdaError {
  return { errorType: 'policyRuntimeFailed', errorLevel: ErrorLevel.Fatal, errorDescription: message, errorReferences: [] };
}

/**
 * The state's `information` entry of type `policyShield`: which policy drives the robot, and the
 * shield's interventions by reason and in total.
 */
export function policyShieldInformation(policy: LoadedPolicy, counts: Readonly<Record<InterventionReason, number>>): { total: number; information: Information } {
  const total = INTERVENTION_REASONS.reduce((sum, k) => sum + counts[k], 0);
  const md = policy.metadata;
  return {
    total,
    information: {
      infoType: 'policyShield',
      infoLevel: InfoLevel.Info,
      infoDescription: `driven by policy ${md.name} ${md.version}`,
      infoReferences: [
        { referenceKey: 'policyName', referenceValue: md.name },
        { referenceKey: 'policyVersion', referenceValue: md.version },
        { referenceKey: 'policySha256', referenceValue: policy.sha256 },
        { referenceKey: 'interventions', referenceValue: String(total) },
        ...INTERVENTION_REASONS.map((k) => ({ referenceKey: `interventions.${k}`, referenceValue: String(counts[k]) })),
      ],
    },
  };
}
