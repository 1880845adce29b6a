// The demo site with two devices driven over ROS 2: amr-3 (Nav2 under /amr_3) and arm-1
// (a joint trajectory controller under /arm_1). amr-1, amr-2 and the machines stay as they are.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexSite, SiteSchema, type SiteIndex } from '../../../planners/site.ts';
import { loadSiteFolder, type LoadedSite } from '../../../sim/site-folder.ts';

const DEMO = join(fileURLToPath(new URL('../../../', import.meta.url)), 'launch/sites/demo');

export const ARM_JOINTS = ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint'];

/**
 * The site; `amr3` replaces amr-3's `ros2` block settings. By default amr-3 reports its pose on
 * odometry, in the map frame (poseSource 'odom'), so a test places it with one message; the map
 * pose sources and the map transform are tested in map-pose.cases.ts.
 */
export function ros2Site(amr3: Record<string, unknown> = { poseSource: 'odom' }): LoadedSite {
  const demo = loadSiteFolder(DEMO);
  const devices = demo.index.site.devices.map((d) => {
    if (d.id === 'amr-3') return { ...d, ros2: { namespace: '/amr_3', ...amr3 } };
    if (d.id === 'arm-1') return { ...d, ros2: { namespace: '/arm_1', trajectoryAction: 'joint_trajectory_controller/follow_joint_trajectory', joints: ARM_JOINTS } };
    return d;
  });
  const site = SiteSchema.parse({ ...demo.index.site, devices });
  return { ...demo, index: indexSite(site) };
}

export function ros2SiteIndex(amr3?: Record<string, unknown>): SiteIndex {
  return ros2Site(amr3).index;
}
