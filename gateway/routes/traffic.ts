// Traffic at run time: the nodes each AMR holds, the route it drives and how far it may go, and,
// for a robot that waits, whom it waits for and why (gateway/execution/traffic.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TrafficDeviceView } from '../execution/traffic.ts';

const Wait = z.object({
  device: z.string().describe('the robot it waits for'),
  node: z.string().describe('the node it waits to enter'),
  why: z.enum(['held', 'near', 'schedule']).describe('`held`: the other robot holds the node; `near`: it holds a node within reach; `schedule`: the checked schedule has it there first'),
  missionId: z.string().optional().describe("the other robot's mission, when it has one"),
  pass: z.number().int().optional().describe('the schedule entry it waits for (`why: schedule`)'),
});

const Device = z.object({
  id: z.string(),
  holds: z.array(z.string()).describe('nodes it holds now: where it stands, and what it is granted ahead'),
  path: z
    .object({
      missionId: z.string(),
      stepId: z.string(),
      nodes: z.array(z.string()).describe("the step's route"),
      reached: z.number().int().describe('index of the node it last reached'),
      granted: z.number().int().describe('index of the last node it may drive to'),
    })
    .optional(),
  waitsFor: Wait.optional(),
});

export const trafficRoutes: FastifyPluginAsyncZod<{ traffic: { view(): TrafficDeviceView[] } }> = async (app, { traffic }) => {
  app.get(
    '/v1/traffic',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['robots'],
        summary: 'Which AMR holds which node, the route each drives, and who waits for whom',
        response: { 200: z.object({ devices: z.array(Device) }) },
      },
    },
    async () => ({ devices: traffic.view() }),
  );
};
